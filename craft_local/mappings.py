"""From a request to the inputs and outputs of one execution (§3.3, §5.1, §7.1).

An execution's inputs are a list of items shaped like the execution object of §5.3
(``pipeline_input_name``, ``data_type``, ``mapping_type``, ``mapping_value``, ``value``),
plus private keys starting with ``_`` that never leave the server: ``_file`` (a file path
relative to the execution folder) and ``_omit`` (pass nothing to the function).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from craft_local.config import MAX_JSON_INPUTS_BYTES
from craft_local.datatypes import check, coerce, expected
from craft_local.errors import bad_request
from craft_local.pipelines import is_required

INPUT_SOURCES = (
    "endpoint_input_name",
    "constant_value",
    "environment_variable_name",
    "is_null",
    "datastore_path",
)
OUTPUT_DESTINATIONS = ("endpoint_output_name", "is_null", "datastore_path")
# Every key that names where an input comes from or an output goes, once each.
_MAPPING_KEYS = tuple(dict.fromkeys(INPUT_SOURCES + OUTPUT_DESTINATIONS))


def datastore_file(root: Path, path: str) -> Path:
    """Resolve a data-store path safely under ``root``."""
    rel = PurePosixPath(path.lstrip("/"))
    if not rel.parts or ".." in rel.parts:
        raise bad_request(f"Invalid data store path '{path}'.", name="InvalidDatastorePath")
    return root.joinpath(*rel.parts)


def check_size(values: dict[str, Any]) -> None:
    """Non-file values must stay under 0.06 MB, read as 60,000 bytes of JSON text."""
    size = len(json.dumps(values).encode())
    if size > MAX_JSON_INPUTS_BYTES:
        sizes = {name: len(json.dumps(value).encode()) for name, value in values.items()}
        largest = max(sizes, key=sizes.__getitem__)
        raise bad_request(
            f"The non-file input values take {size} bytes of JSON (largest: input"
            f" '{largest}', {sizes[largest]} bytes); the limit is {MAX_JSON_INPUTS_BYTES}"
            " bytes (0.06 MB). Send large data as file inputs.",
            name="InputsTooLarge",
        )


def _parse_mapping_list(raw: Any, what: str, key: str, known: dict[str, Any]) -> dict[str, dict]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise bad_request(f"'{what}' must be a list of objects.")
    result: dict[str, dict] = {}
    for mapping in raw:
        name = mapping.get(key)
        if not isinstance(name, str) or name not in known:
            raise bad_request(
                f"'{what}' refers to unknown {key.replace('_', ' ')} {name!r}; known:"
                f" {', '.join(known) or 'none'}.",
                name="InvalidMapping",
            )
        if name in result:
            raise bad_request(f"'{what}' maps '{name}' twice.", name="InvalidMapping")
        result[name] = mapping
    return result


def _single_source(mapping: dict[str, Any], allowed: tuple[str, ...], name: str, what: str) -> str:
    sources = [k for k in _MAPPING_KEYS if k in mapping]
    if len(sources) != 1 or sources[0] not in allowed:
        raise bad_request(
            f"The {what} mapping of '{name}' needs exactly one of {', '.join(allowed)}.",
            name="InvalidMapping",
        )
    if sources[0] == "is_null" and mapping["is_null"] is not True:
        raise bad_request(f"is_null of '{name}' must be true.", name="InvalidMapping")
    if sources[0] not in ("is_null", "constant_value") and not isinstance(mapping[sources[0]], str):
        raise bad_request(f"{sources[0]} of '{name}' must be a string.")
    return sources[0]


def _item(
    definition: dict[str, Any],
    mapping_type: str,
    mapping_value: dict[str, Any],
    kind: str = "input",
) -> dict:
    """An execution's input (or, with ``kind="output"``, output) item, without its value."""
    return {
        f"pipeline_{kind}_name": definition["name"],
        "data_type": definition["data_type"],
        "mapping_type": mapping_type,
        "mapping_value": mapping_value,
    }


class InputContext:
    """What input resolution needs besides the request.

    :param execution_dir: the execution's folder (file inputs are copied under it).
    :param env: platform environment variables.
    :param datastore_root: root of the local data store.
    """

    def __init__(self, execution_dir: Path, env: dict[str, str], datastore_root: Path) -> None:
        self.execution_dir = execution_dir
        self.env = env
        self.datastore_root = datastore_root


def _mapped_input(
    definition: dict[str, Any], mapping: dict[str, Any], source: str, ctx: InputContext
) -> dict[str, Any]:
    name, data_type = definition["name"], definition["data_type"]
    if source == "constant_value":
        if data_type == "file":
            raise bad_request(f"Input '{name}' is a file: it can not take a constant value.")
        check("input", name, data_type, mapping["constant_value"])
        item = _item(definition, "constant", {"constant_value": mapping["constant_value"]})
        item["value"] = mapping["constant_value"]
        return item
    if source == "environment_variable_name":
        var = mapping["environment_variable_name"]
        if data_type == "file":
            raise bad_request(f"Input '{name}' is a file: it can not come from a variable.")
        if var not in ctx.env:
            raise bad_request(
                f"Input '{name}' is mapped to the environment variable '{var}', which is not"
                " set on the platform.",
                name="InvalidMapping",
            )
        try:
            value = coerce(data_type, ctx.env[var])
            check("input", name, data_type, value)
        except ValueError:
            raise bad_request(
                f"Environment variable '{var}' does not hold {expected(data_type)} for input"
                f" '{name}'.",
                name="InvalidInput",
            ) from None
        item = _item(definition, "environment_variable", {"environment_variable_name": var})
        item["value"] = value
        return item
    if source == "is_null":
        item = _item(definition, "is_null", {"is_null": True})
        item["value"] = None
        return item
    if source == "datastore_path":
        src = datastore_file(ctx.datastore_root, mapping["datastore_path"])
        if not src.is_file():
            raise bad_request(
                f"Input '{name}': no file at data store path '{mapping['datastore_path']}'.",
                name="DatastoreFileNotFound",
            )
        rel = Path("inputs") / name / src.name
        (ctx.execution_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, ctx.execution_dir / rel)
        item = _item(definition, "datastore", {"datastore_path": mapping["datastore_path"]})
        item["_file"] = str(rel)
        return item
    raise AssertionError(source)


def _who(definition: dict[str, Any], mapping_type: str, key: str) -> tuple[str, str]:
    """How a message names the input: the endpoint input the caller sent (an endpoint may rename
    the pipeline input), else the pipeline input; as ``(kind, name)``."""
    if mapping_type == "endpoint":
        return "endpoint input", key
    return "input", definition["name"]


def _given(
    definition: dict[str, Any],
    mapping_type: str,
    mapping_value: dict[str, Any],
    values: dict[str, Any],
    files: dict[str, str],
    key: str,
) -> dict[str, Any]:
    """An input whose value the caller sent under ``key`` (JSON value or file part)."""
    data_type = definition["data_type"]
    kind, name = _who(definition, mapping_type, key)
    item = _item(definition, mapping_type, mapping_value)
    if key in files:
        if data_type != "file":
            raise bad_request(
                f"{kind.capitalize()} '{name}' expects {expected(data_type)} ({data_type}),"
                " not a file.",
                name="InvalidInput",
                input_name=name,
            )
        item["_file"] = files[key]
        return item
    if data_type == "file":
        raise bad_request(
            f"{kind.capitalize()} '{name}' is a file: send it as a file part named '{key}'.",
            name="InvalidInput",
            input_name=name,
        )
    value = values[key]
    spec = mapping_value if kind == "endpoint input" else definition
    if value is None and is_required(spec) and "default_value" not in spec:
        raise bad_request(
            f"{kind.capitalize()} '{name}' is required: expected {expected(data_type)}"
            f" ({data_type}), got null.",
            name="InvalidInput",
            input_name=name,
        )
    if value is not None:
        check(kind, name, data_type, value)
    item["value"] = value
    return item


def _absent(
    definition: dict[str, Any],
    mapping_type: str,
    mapping_value: dict[str, Any],
    spec: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    """An input the caller did not send under ``key``: its default, omitted, or a 400.

    :param spec: where ``is_required`` and ``default_value`` are read: the input's
        definition (runs) or the deployment's mapping (endpoints).
    """
    data_type = definition["data_type"]
    kind, name = _who(definition, mapping_type, key)
    item = _item(definition, mapping_type, mapping_value)
    if "default_value" in spec:
        item["value"] = spec["default_value"]
    elif is_required(spec):
        where = "" if kind == "endpoint input" or key == name else f" under '{key}'"
        raise bad_request(
            f"{kind.capitalize()} '{name}' is required: expected {expected(data_type)}"
            f" ({data_type}){where}.",
            name="MissingInput",
            input_name=name,
        )
    else:
        item["_omit"] = True
    return item


def _check_unknown(names: set[str], known: set[str], kind: str, where: str) -> None:
    unknown = sorted(names - known)
    if unknown:
        raise bad_request(
            f"Unknown {kind} {', '.join(repr(u) for u in unknown)}; {where} accepts:"
            f" {', '.join(sorted(known)) or 'no inputs'}.",
            name="UnknownInput",
        )


def resolve_run_inputs(
    parameters: dict[str, Any],
    json_inputs: dict[str, Any],
    files: dict[str, str],
    inputs_mapping: Any,
    ctx: InputContext,
) -> list[dict[str, Any]]:
    """Inputs of ``POST /pipelines/{p}/run``.

    :param json_inputs: decoded ``json_inputs``.
    :param files: file inputs already saved: input name -> path relative to the execution dir.
    :param inputs_mapping: decoded ``inputs_mapping`` (list of InputSource) or ``None``.
    """
    definitions = {d["name"]: d for d in parameters["inputs"]}
    _check_unknown(set(json_inputs) | set(files), set(definitions), "input", "this pipeline")
    check_size(json_inputs)
    mappings = _parse_mapping_list(
        inputs_mapping, "inputs_mapping", "pipeline_input_name", definitions
    )
    items = []
    for name, definition in definitions.items():
        if name in mappings:
            if name in json_inputs or name in files:
                raise bad_request(
                    f"Input '{name}' is both given and mapped.", name="InvalidMapping"
                )
            run_sources = (
                "constant_value",
                "environment_variable_name",
                "is_null",
                "datastore_path",
            )
            source = _single_source(mappings[name], run_sources, name, "input")
            items.append(_mapped_input(definition, mappings[name], source, ctx))
        elif name in json_inputs or name in files:
            items.append(
                _given(definition, "run", {"run_input_name": name}, json_inputs, files, name)
            )
        else:
            items.append(_absent(definition, "run", {"run_input_name": name}, definition, name))
    return items


def resolve_endpoint_inputs(
    deployment: dict[str, Any],
    parameters: dict[str, Any],
    fields: dict[str, Any],
    files: dict[str, str],
    ctx: InputContext,
) -> list[dict[str, Any]]:
    """Inputs of an endpoint call, through the deployment's normalised ``inputs_mapping``.

    :param fields: non-file endpoint fields (already JSON-decoded).
    :param files: endpoint file fields saved: endpoint name -> path relative to the execution dir.
    """
    definitions = {d["name"]: d for d in parameters["inputs"]}
    endpoint_names = {
        m["endpoint_input_name"] for m in deployment["inputs_mapping"] if "endpoint_input_name" in m
    }
    _check_unknown(set(fields) | set(files), endpoint_names, "endpoint input", "this endpoint")
    check_size(fields)
    items = []
    for mapping in deployment["inputs_mapping"]:
        definition = definitions[mapping["pipeline_input_name"]]
        if "endpoint_input_name" not in mapping:
            source = next(k for k in INPUT_SOURCES if k in mapping)
            items.append(_mapped_input(definition, mapping, source, ctx))
            continue
        key = mapping["endpoint_input_name"]
        value = {
            k: mapping[k]
            for k in ("endpoint_input_name", "is_required", "default_value")
            if k in mapping
        }
        if key in fields or key in files:
            items.append(_given(definition, "endpoint", value, fields, files, key))
        else:
            items.append(_absent(definition, "endpoint", value, mapping, key))
    return items


def run_outputs(parameters: dict[str, Any], outputs_mapping: Any) -> list[dict[str, Any]]:
    """Output items (without values) of a run; only ``is_null``/``datastore_path`` mappings."""
    definitions = {d["name"]: d for d in parameters["outputs"]}
    mappings = _parse_mapping_list(
        outputs_mapping, "outputs_mapping", "pipeline_output_name", definitions
    )
    items = []
    for name, definition in definitions.items():
        mapping = mappings.get(name)
        if mapping is None:
            items.append(_item(definition, "run", {"run_output_name": name}, "output"))
            continue
        source = _single_source(mapping, ("is_null", "datastore_path"), name, "output")
        items.append(_mapped_output(definition, mapping, source))
    return items


def deployment_outputs(deployment: dict[str, Any], parameters: dict[str, Any]) -> list[dict]:
    """Output items (without values) of an execution of ``deployment``."""
    definitions = {d["name"]: d for d in parameters["outputs"]}
    items = []
    for mapping in deployment["outputs_mapping"]:
        definition = definitions[mapping["pipeline_output_name"]]
        source = next(k for k in OUTPUT_DESTINATIONS if k in mapping)
        items.append(_mapped_output(definition, mapping, source))
    return items


def _mapped_output(definition: dict[str, Any], mapping: dict[str, Any], source: str) -> dict:
    if source == "is_null":
        return _item(definition, "is_null", {"is_null": True}, "output")
    if source == "datastore_path":
        path = mapping["datastore_path"]  # a string: checked by _single_source
        datastore_file(Path("/"), path)  # refuse '..' and empty paths now, not after the run
        return _item(definition, "datastore", {"datastore_path": path}, "output")
    return _item(
        definition, "endpoint", {"endpoint_output_name": mapping["endpoint_output_name"]}, "output"
    )


def _described(key: str, definition: dict[str, Any]) -> dict[str, Any]:
    """Start of a deployment mapping: ``{key: name, data_type[, description]}``."""
    base = {key: definition["name"], "data_type": definition["data_type"]}
    if "description" in definition:
        base["description"] = definition["description"]
    return base


def normalise_deployment_mappings(
    parameters: dict[str, Any], inputs_mapping: Any, outputs_mapping: Any, execution_rule: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Complete and check a deployment's mappings: every input and output mapped once.

    For endpoints, an unmapped input/output maps to the endpoint field of the same name.
    """
    inputs = {d["name"]: d for d in parameters["inputs"]}
    outputs = {d["name"]: d for d in parameters["outputs"]}
    in_maps = _parse_mapping_list(inputs_mapping, "inputs_mapping", "pipeline_input_name", inputs)
    out_maps = _parse_mapping_list(
        outputs_mapping, "outputs_mapping", "pipeline_output_name", outputs
    )
    endpoint = execution_rule == "endpoint"
    input_sources = INPUT_SOURCES if endpoint else INPUT_SOURCES[1:]
    result_in: list[dict[str, Any]] = []
    for name, definition in inputs.items():
        base = _described("pipeline_input_name", definition)
        mapping = in_maps.get(name)
        if mapping is None:
            if not endpoint:
                raise bad_request(
                    f"inputs_mapping: input '{name}' must be mapped on a {execution_rule}"
                    " deployment (constant_value, environment_variable_name, is_null or"
                    " datastore_path).",
                    name="InvalidMapping",
                )
            mapping = {"endpoint_input_name": name}
            if "default_value" in definition:
                mapping["default_value"] = definition["default_value"]
            else:
                mapping["is_required"] = is_required(definition)
        source = _single_source(mapping, input_sources, name, "input")
        if source != "endpoint_input_name" and (
            "is_required" in mapping or "default_value" in mapping
        ):
            raise bad_request(
                f"is_required/default_value of '{name}' need endpoint_input_name.",
                name="InvalidMapping",
            )
        if source == "constant_value":
            if definition["data_type"] == "file":
                raise bad_request(f"Input '{name}' is a file: it can not take a constant value.")
            check("input", name, definition["data_type"], mapping["constant_value"])
        if "default_value" in mapping and definition["data_type"] != "file":
            check("input", name, definition["data_type"], mapping["default_value"])
        keys = (source, "is_required", "default_value")
        result_in.append({**base, **{k: mapping[k] for k in keys if k in mapping}})
    seen = [m["endpoint_input_name"] for m in result_in if "endpoint_input_name" in m]
    if len(seen) != len(set(seen)):
        raise bad_request("Two inputs use the same endpoint_input_name.", name="InvalidMapping")
    result_out: list[dict[str, Any]] = []
    output_sources = OUTPUT_DESTINATIONS if endpoint else OUTPUT_DESTINATIONS[1:]
    for name, definition in outputs.items():
        base = _described("pipeline_output_name", definition)
        mapping = out_maps.get(name)
        if mapping is None:
            if not endpoint:
                raise bad_request(
                    f"outputs_mapping: output '{name}' must be mapped on a {execution_rule}"
                    " deployment (is_null or datastore_path).",
                    name="InvalidMapping",
                )
            mapping = {"endpoint_output_name": name}
        source = _single_source(mapping, output_sources, name, "output")
        result_out.append({**base, source: mapping[source]})
    seen = [m["endpoint_output_name"] for m in result_out if "endpoint_output_name" in m]
    if len(seen) != len(set(seen)):
        raise bad_request("Two outputs use the same endpoint_output_name.", name="InvalidMapping")
    return result_in, result_out
