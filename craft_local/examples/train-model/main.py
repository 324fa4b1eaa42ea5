"""A training step: fits y = w * x to a small data set by gradient descent and records, with
the official SDK the platform configures for pipeline code, the loss of each epoch (a list
metric) and the model's accuracy (a single-value metric)."""

from craft_ai_sdk import CraftAiSdk

DATA = [(x / 10, 3 * x / 10) for x in range(1, 11)]  # y = 3x


def train(epochs):
    sdk = CraftAiSdk()
    weight = 0.0
    for epoch in range(int(epochs)):
        gradient = sum(2 * (weight * x - y) * x for x, y in DATA) / len(DATA)
        weight -= 0.5 * gradient
        loss = sum((weight * x - y) ** 2 for x, y in DATA) / len(DATA)
        sdk.record_list_metric_values("loss", loss)
        print(f"epoch {epoch + 1}: weight={weight:.4f} loss={loss:.6f}")
    accuracy = max(0.0, 1 - abs(weight - 3) / 3)
    sdk.record_metric_value("accuracy", accuracy)
    print(f"accuracy {accuracy:.4f}")
    return {"model": {"weight": weight}}
