"""get_prompt_versions: a prompt written three times through the test server's API, its versions
asked for (POST /btql with the audit log), each loaded back with load_prompt(version=<pretty>);
a prompt with one version; errors for an unknown prompt id (no versions) and a bad argument."""
import os

import braintrust
import requests

api = os.environ["BRAINTRUST_APP_URL"]
auth = {"Authorization": f"Bearer {os.environ['BRAINTRUST_API_KEY']}"}
project_id = requests.post(f"{api}/v1/project", json={"name": "recorder-prompt-versions"}, headers=auth).json()["id"]


def write(slug, text):
    body = {"project_id": project_id, "slug": slug, "name": slug.title(),
            "prompt_data": {"prompt": {"type": "chat", "messages": [{"role": "user", "content": text}]},
                            "options": {"model": "gpt-4o-mini"}}}
    answer = requests.put(f"{api}/v1/prompt", json=body, headers=auth)
    answer.raise_for_status()
    return answer.json()


first = write("triage", "v1: {{ticket}}")
write("triage", "v2: {{ticket}}")
last = write("triage", "v3: {{ticket}}")
write("single", "only {{x}}")

braintrust.login()
versions = braintrust.get_prompt_versions(project_id, first["id"])
print("versions:", len(versions), [len(v) for v in versions], versions[-1] != last["_xact_id"])
for version in versions:
    prompt = braintrust.load_prompt("recorder-prompt-versions", "triage", version=version)
    print("loaded:", prompt.build(ticket="T-1")["messages"][0]["content"])

single = braintrust.load_prompt("recorder-prompt-versions", "single")
print("single:", len(braintrust.get_prompt_versions(project_id, single.id)))
print("unknown:", braintrust.get_prompt_versions(project_id, "00000000-0000-0000-0000-000000000000"))
