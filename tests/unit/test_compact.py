"""Long-lived copies of decoded JSON share their keys and short strings, and are copies."""

import json

from promptflow_netiso.azure.ml import parse_outbound_rule
from promptflow_netiso.compact import SHARED_UP_TO, compact

DOC = ('{"status": {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 3}], "ok": true, '
       '"n": 1.5, "none": null, "message": "%s"}}' % ("x" * (SHARED_UP_TO + 1)))


def test_two_separately_decoded_objects_share_keys_and_short_values_but_not_long_ones():
    a, b = compact(json.loads(DOC)), compact(json.loads(DOC))
    assert a == json.loads(DOC), "the same content"
    ca, cb = a["status"]["conditions"][0], b["status"]["conditions"][0]
    key_a = next(k for k in ca if k == "observedGeneration")
    key_b = next(k for k in cb if k == "observedGeneration")
    assert key_a is key_b and ca["status"] is cb["status"], "one copy of each key and short value"
    assert a["status"]["message"] is not b["status"]["message"], "long strings are left as decoded"


def test_it_is_a_copy():
    original = json.loads(DOC)
    copy = compact(original)
    copy["status"]["conditions"][0]["status"] = "False"
    assert original["status"]["conditions"][0]["status"] == "True"


def test_azure_rules_of_two_answers_share_their_strings():
    answer = ('{"name": "__SYS_ST_AzureActiveDirectory", "properties": {"type": "ServiceTag", "category": "Required", '
              '"status": "Active", "destination": {"serviceTag": "AzureActiveDirectory", "protocol": "TCP"}}}')
    one, two = parse_outbound_rule(json.loads(answer)), parse_outbound_rule(json.loads(answer))
    assert one == two and one.category is two.category and one.name is two.name
    assert one.destination["serviceTag"] is two.destination["serviceTag"]
    assert not hasattr(one, "__dict__"), "slots: no dict per kept rule"
