import json
import sys

from ballast.runtime.ir import unparse

policy = json.load(sys.stdin)["policies"][0]
names = [rule["name"] for rule in policy["rules"]]
for group in policy["plan"]["groups"]:
    key = ".".join(group["key_path"]) if group["key_path"] else None
    print(f"group {key} = {group['values']}" if key else "rules without a dispatch key")
    for chain in group["chains"]:
        steps = ", ".join(f"{s['op']} {s['threshold']} → {names[s['rule']]}" for s in chain["steps"])
        print(f"  chain on {'.'.join(chain['path'])}: {steps}")
    for single in group["singles"]:
        print(f"  rule {names[single['rule']]}")
    for shared in group["shared"]:
        print(f"  computed once: {unparse(shared)}")
