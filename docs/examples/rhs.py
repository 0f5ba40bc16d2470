import json
import sys


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "at"}
    return [strip(v) for v in node] if isinstance(node, list) else node


rule = json.load(sys.stdin)["policies"][0]["rules"][1]
print(json.dumps(strip(rule["when"]["r"])))
