#!/bin/bash
# Real single-node Kubernetes v1.20.2 (etcd + kube-apiserver + controller-manager + scheduler +
# kubelet/dockershim + dockerd/runc) built from Debian's kubernetes source package, loopback only.
# usage: k8s-local.sh setup | start | stop | kubeconfig   (K8S_BASE: working folder, default
# /tmp/craft-k8s, outside the repository). setup skips each step already done, so a second run is
# a few seconds; start is a no-op when the API server already answers.
# setup ~7 min on 2 cores (Go build of v1.20.2 from Debian's source package), ~5.5 GB of disk;
# start ~25 s to a Ready node; about 700 MB of memory while running. Loopback only.
# Pods: images are made locally (no registry), so use imagePullPolicy: Never and the images
# localhost/py:1 (Debian minbase + python3) and localhost/bb:1 (busybox). There is no kube-proxy:
# a pod that must reach a server on this machine uses hostNetwork: true.
set -euo pipefail
B=${K8S_BASE:-/tmp/craft-k8s}
# Debian mirror: the one this machine's apt is already configured with.
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
SUITE=$(. /etc/os-release && echo "$VERSION_CODENAME")
SRC=$B/src/kubernetes-1.20.2
export GOPATH=$B/gopath GO111MODULE=off GOFLAGS= GOMAXPROCS=2 CGO_ENABLED=0 GOCACHE=$B/gocache
DOCKER="/usr/bin/docker -H unix://$B/docker.sock"

setup() {
  export DEBIAN_FRONTEND=noninteractive
  local tool missing=
  for tool in etcd go dockerd containerd runc gcc openssl curl debootstrap busybox; do
    command -v $tool >/dev/null || missing=1
  done
  if [ -n "$missing" ]; then
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends etcd-server golang-go docker.io containerd runc \
        gcc libc6-dev openssl curl debootstrap busybox-static >/dev/null
  fi
  if [ -x $B/bin/kubectl ] && [ -x $B/img/pause/pause ] && [ -x $B/img/py/usr/bin/python3 ] \
      && [ -f $B/admin.kubeconfig ]; then
    echo "already set up in $B"
    return 0
  fi
  mkdir -p $B/aptsrc/parts $B/aptsrc/lists/partial $B/src $B/bin $B/pki $B/logs
  cat > $B/aptsrc/parts/src.sources <<EOF
Types: deb-src
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  APTO="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$B/aptsrc/parts -o Dir::State::Lists=$B/aptsrc/lists"
  apt-get $APTO update -qq
  [ -d $SRC ] || (cd $B/src && apt-get $APTO source --download-only kubernetes >/dev/null && tar xzf kubernetes_*.orig.tar.gz)
  # the sandbox lacks CAP_SYS_RESOURCE: negative oom_score_adj makes runc fail -> use 0
  sed -i 's/defaultSandboxOOMAdj int = -998/defaultSandboxOOMAdj int = 0/' $SRC/pkg/kubelet/dockershim/docker_sandbox.go
  sed -i 's/guaranteedOOMScoreAdj int = -997/guaranteedOOMScoreAdj int = 0/' $SRC/pkg/kubelet/qos/policy.go
  mkdir -p $GOPATH/src/k8s.io && ln -sfn $SRC $GOPATH/src/k8s.io/kubernetes
  cd $GOPATH/src/k8s.io/kubernetes
  # generate pkg/generated/openapi (what `make generated_files` would do)
  if [ ! -f pkg/generated/openapi/zz_generated.openapi.go ]; then
  go build -p 2 -o $B/bin/openapi-gen ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  IN=$(find -H . \( -not \( \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune \) \) -type f -name '*.go' \
        | sed 's|^./staging/src|vendor|; s|^./||' | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' \
        | xargs grep -l '^// *+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u \
        | sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
  $B/bin/openapi-gen -i "$IN" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
      -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r $B/openapi-violations.report
  fi
  P=k8s.io/kubernetes/vendor/k8s.io
  V="-X $P/component-base/version.gitVersion=v1.20.2 -X $P/component-base/version.gitMajor=1 -X $P/component-base/version.gitMinor=20 -X $P/client-go/pkg/version.gitVersion=v1.20.2"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
    [ -x $B/bin/$c ] || go build -p 2 -ldflags "-s -w $V" -o $B/bin/$c ./cmd/$c
  done
  # pause image binary + images made locally (no registry)
  mkdir -p $B/img/pause $B/img/bb/bin
  gcc -Os -static -o $B/img/pause/pause $SRC/build/pause/linux/pause.c
  cp /bin/busybox $B/img/bb/bin/ && for a in sh echo cat ls sleep env id; do ln -sf busybox $B/img/bb/bin/$a; done
  [ -x $B/img/py/usr/bin/python3 ] || debootstrap --variant=minbase --include=python3 "$SUITE" $B/img/py "$MIRROR" >/dev/null
  # certs, tokens, kubeconfigs
  cd $B/pki
  openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 365 -subj /CN=test-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
  echo "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc" > san.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 365 -extfile san.ext 2>/dev/null
  printf 'admin-token,admin,admin,system:masters\nkubelet-token,system:node:localhost,kubelet,system:nodes\n' > tokens.csv
  for u in admin kubelet; do cat > $B/$u.kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:26443", certificate-authority: $B/pki/ca.crt}}]
users: [{name: $u, user: {token: $u-token}}]
contexts: [{name: local, context: {cluster: local, user: $u}}]
current-context: local
EOF
  done
  cat > $B/kubelet-config.yaml <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
makeIPTablesUtilChains: false
hairpinMode: none
oomScoreAdj: 0
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
}

bg() { local n=$1; shift; nohup "$@" > $B/logs/$n.log 2>&1 & echo $! > $B/$n.pid; }
waitfor() { for i in $(seq 1 240); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done; echo "timeout: $1"; return 1; }

kubeconfig() { echo $B/admin.kubeconfig; }

start() {
  cd $B
  exec 9>$B/start.lock
  flock 9  # a second start waits for the first, then finds the cluster up
  if curl -skf -H 'Authorization: Bearer admin-token' https://127.0.0.1:26443/readyz >/dev/null 2>&1; then
    echo "cluster already up: KUBECONFIG=$B/admin.kubeconfig"
    return 0
  fi
  bg etcd etcd --name k8s --data-dir $B/etcd-data --listen-client-urls http://127.0.0.1:23379 \
     --advertise-client-urls http://127.0.0.1:23379 --listen-peer-urls http://127.0.0.1:23380 \
     --initial-advertise-peer-urls http://127.0.0.1:23380 --initial-cluster k8s=http://127.0.0.1:23380 \
     --listen-metrics-urls http://127.0.0.1:23381
  echo '{}' > $B/daemon.json
  bg dockerd dockerd --config-file $B/daemon.json --data-root $B/docker-data --exec-root $B/docker-exec \
     --pidfile $B/docker-daemon.pid -H unix://$B/docker.sock --bridge=none --iptables=false --ip-masq=false \
     --ip6tables=false --userland-proxy=false --default-ulimit nofile=20000:20000 --default-ulimit nproc=32768:32768
  waitfor "$DOCKER info"
  tar -C $B/img/pause -c . | $DOCKER import --change 'ENTRYPOINT ["/pause"]' - localhost/pause:3.4.1 >/dev/null
  tar -C $B/img/bb -c . | $DOCKER import - localhost/bb:1 >/dev/null
  tar -C $B/img/py --exclude=./var/cache/apt/archives -c . | $DOCKER import - localhost/py:1 >/dev/null
  waitfor "curl -sf http://127.0.0.1:23379/health"
  bg apiserver $B/bin/kube-apiserver --etcd-servers=http://127.0.0.1:23379 --bind-address=127.0.0.1 \
     --advertise-address=127.0.0.1 --secure-port=26443 --insecure-port=0 \
     --tls-cert-file=$B/pki/apiserver.crt --tls-private-key-file=$B/pki/apiserver.key --client-ca-file=$B/pki/ca.crt \
     --token-auth-file=$B/pki/tokens.csv --authorization-mode=Node,RBAC --allow-privileged=true \
     --service-account-issuer=https://kubernetes.default.svc --service-account-key-file=$B/pki/sa.pub \
     --service-account-signing-key-file=$B/pki/sa.key --service-cluster-ip-range=${K8S_SVC_CIDR:-127.96.0.0/24} \
     --endpoint-reconciler-type=none --kubelet-preferred-address-types=Hostname,InternalIP --cert-dir=$B/apiserver-certs
  waitfor "curl -skf -H 'Authorization: Bearer admin-token' https://127.0.0.1:26443/readyz"
  local common="--kubeconfig=$B/admin.kubeconfig --authentication-kubeconfig=$B/admin.kubeconfig --authorization-kubeconfig=$B/admin.kubeconfig --leader-elect=false --bind-address=127.0.0.1 --port=0"
  bg kcm $B/bin/kube-controller-manager $common --secure-port=20257 --cert-dir=$B/kcm-certs \
     --service-account-private-key-file=$B/pki/sa.key --root-ca-file=$B/pki/ca.crt \
     --controllers='*,-nodeipam,-service,-route,-cloud-node-lifecycle,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-csrsigning'
  bg sched $B/bin/kube-scheduler $common --secure-port=20259 --cert-dir=$B/sched-certs
  mkdir -p $B/kubelet
  bg kubelet $B/bin/kubelet --config=$B/kubelet-config.yaml --kubeconfig=$B/kubelet.kubeconfig \
     --container-runtime=docker --docker-endpoint=unix://$B/docker.sock --pod-infra-container-image=localhost/pause:3.4.1 \
     --root-dir=$B/kubelet --cert-dir=$B/kubelet/pki --volume-plugin-dir=$B/kubelet/volume-plugins \
     --hostname-override=localhost --network-plugin=
  waitfor "$B/bin/kubectl --kubeconfig=$B/admin.kubeconfig wait --for=condition=Ready node/localhost --timeout=2s"
  waitfor "$B/bin/kubectl --kubeconfig=$B/admin.kubeconfig get sa default -o name | grep -q default"
  # taint removal is done by the node-lifecycle controller shortly after Ready
  waitfor "! $B/bin/kubectl --kubeconfig=$B/admin.kubeconfig get node localhost -o jsonpath='{.spec.taints}' | grep -q not-ready"
  echo "cluster up: KUBECONFIG=$B/admin.kubeconfig"
}

stop() {
  $B/bin/kubectl --kubeconfig=$B/admin.kubeconfig delete jobs,pods --all -A --wait=false >/dev/null 2>&1 || true
  for n in kubelet sched kcm apiserver; do [ -f $B/$n.pid ] && kill $(cat $B/$n.pid) 2>/dev/null || true; done
  sleep 2
  $DOCKER ps -aq 2>/dev/null | xargs -r $DOCKER rm -f >/dev/null 2>&1 || true
  for n in dockerd etcd; do [ -f $B/$n.pid ] && kill $(cat $B/$n.pid) 2>/dev/null || true; done
  sleep 3
  for n in kubelet sched kcm apiserver dockerd etcd; do [ -f $B/$n.pid ] && kill -9 $(cat $B/$n.pid) 2>/dev/null || true; rm -f $B/$n.pid; done
  mount | awk -v b="$B" 'index($3, b) == 1 {print $3}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}

"$@"
