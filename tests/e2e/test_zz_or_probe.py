import json
from tests.e2e.test_outbound_rule import *

def test_probe(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "probe")
    ready_workspace(kube, namespace, az)
    apply(kube, namespace, fqdn("p1", "api.openai.com"))
    obj = ready_rule(kube, namespace, "p1")
    print(json.dumps(obj["status"], indent=1))
    print(kube.cp.kubectl("get", "pfor", "-n", namespace, "-o", "wide").stdout)
    log = operator.logs()
    print("\n".join(l for l in log.splitlines() if "outbound" in l.lower() and ("error" in l.lower() or "warn" in l.lower()))[-5000:])
