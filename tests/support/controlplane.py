"""A real Kubernetes control plane on loopback: etcd + kube-apiserver, as envtest starts them.

Used by the e2e fixtures and by the local demo. Binaries come from tests.support.tools (built once per machine by
scripts/build-tools.sh). Nothing here fakes the API server: admission, CEL, RBAC, status subresources are the real ones.
"""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from .certs import LocalCA, service_account_key
from .tools import tool_path

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlPlane:
    def __init__(self, workdir: Path | None = None, *, crds: Path | None = CRDS, log=print,
                 apiserver_args: tuple[str, ...] = ()):
        self._own_dir = workdir is None
        self.apiserver_args = tuple(apiserver_args)  # e.g. an audit policy for a benchmark that counts writes
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="pfnetiso-cp-"))
        self.crds = crds
        self.log = log
        self._procs: list[subprocess.Popen] = []
        self.kubeconfig = self.dir / "kubeconfig"
        self.kubectl_bin = tool_path("kubectl")
        self.server = ""

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "ControlPlane":
        etcd, apiserver = tool_path("etcd"), tool_path("kube-apiserver")
        started = time.monotonic()
        pki = self.dir / "pki"
        ca = LocalCA(pki)
        serving = ca.issue("apiserver", "kube-apiserver", server=True)
        admin = ca.issue("admin", "admin", org="system:masters")
        sa_key = service_account_key(pki)

        client, peer, secure = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{client}"
        self._spawn(
            "etcd",
            [
                etcd,
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                apiserver,
                f"--etcd-servers={etcd_url}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={ca.cert_path}",
                f"--secure-port={secure}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                "--allow-privileged=true",
                "--v=0",
                *self.apiserver_args,
            ],
        )
        self.server = f"https://127.0.0.1:{secure}"
        self._write_kubeconfig(ca.cert_path, admin.cert, admin.key)
        self._wait_ready(ca.cert_path, admin.cert, admin.key, timeout)
        if self.crds is not None:
            self.apply_crds()
        self.log(f"[control-plane] ready at {self.server} in {time.monotonic() - started:.1f}s (kubeconfig {self.kubeconfig})")
        return self

    def stop(self) -> None:
        for p in reversed(self._procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self._procs):
            try:
                p.wait(timeout=3)  # throwaway state: no need for a long graceful shutdown
            except subprocess.TimeoutExpired:
                p.kill()
        self._procs.clear()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------------------------------------------
    def kubectl(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [self.kubectl_bin, f"--kubeconfig={self.kubeconfig}", *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}):\n{res.stderr}{res.stdout}")
        return res

    def apply_crds(self) -> None:
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(self.crds))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

    def pid(self, binary: str) -> int:
        """The process ID of one of the control plane's processes (etcd, kube-apiserver), for CPU figures."""
        return next(p.pid for p in self._procs if Path(str(p.args[0])).name == binary)

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    # -- internals ---------------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "wb")
        self._procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def _write_kubeconfig(self, ca: Path, cert: Path, key: Path) -> None:
        b64 = lambda p: base64.b64encode(Path(p).read_bytes()).decode()  # noqa: E731
        self.kubeconfig.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {self.server}
    certificate-authority-data: {b64(ca)}
users:
- name: admin
  user:
    client-certificate-data: {b64(cert)}
    client-key-data: {b64(key)}
contexts:
- name: local
  context: {{cluster: local, user: admin}}
current-context: local
"""
        )
        self.kubeconfig.chmod(0o600)

    def _wait_ready(self, ca: Path, cert: Path, key: Path, timeout: float) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(cert), str(key))
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for p in self._procs:
                if p.poll() is not None:
                    name = Path(p.args[0]).name
                    tail = (self.dir / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{name} exited with {p.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception as e:  # not up yet
                last = str(e)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kube-apiserver not ready after {timeout}s: {last}")


if __name__ == "__main__":  # a manual smoke: python -m tests.support.controlplane
    with ControlPlane() as cp:
        print(cp.kubectl("get", "crd").stdout)
        print(cp.kubectl("version").stdout)
