"""Functions defined in code (braintrust.projects): tools from handlers (a pydantic parameters
model, a default name and slug), chat and completion prompts (model params, tools given as a
code tool, a saved function id and a raw tool definition), an LLM scorer with choice scores and
chain of thought, a code scorer, then Project.publish(), which sends the prompts (and warns that
code functions need `braintrust push`). Public API only."""
import braintrust
from pydantic import BaseModel

project = braintrust.projects.create(name="recorder-projects")


class Forecast(BaseModel):
    city: str
    days: int = 1


def get_weather(city: str, days: int = 1) -> str:
    return f"sunny in {city} for {days} day(s)"


weather = project.tools.create(handler=get_weather, parameters=Forecast, description="Look up the weather", if_exists="replace")
lookup = project.tools.create(handler=lambda order_id: {"status": "shipped"}, name="Order Status!", metadata={"team": "support"}, tags=["orders"])
print("tools:", weather.name, weather.slug, lookup.name, lookup.slug, weather.handler("Oslo"))

reply = project.prompts.create(
    name="Support Reply",
    description="Answers a customer",
    model="gpt-4o-mini",
    messages=[{"role": "system", "content": "You are a support agent."}, {"role": "user", "content": "{{question}}"}],
    params={"temperature": 0.2, "max_tokens": 200},
    tools=[weather, {"type": "global", "name": "search"}, {"type": "function", "function": {"name": "refund", "description": "Refund an order", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}}],
    if_exists="replace",
    metadata={"owner": "support"},
    tags=["prod"],
)
summary = project.prompts.create(name="Summarize", slug="summarize-v2", prompt="Summarize: {{text}}", model="gpt-4o")
print("prompts:", reply.name, reply.slug, summary.slug)

polite = project.scorers.create(
    name="Politeness",
    messages=[{"role": "user", "content": "Is this polite? {{output}}"}],
    model="gpt-4o",
    use_cot=True,
    choice_scores={"Yes": 1, "No": 0},
)
class Output(BaseModel):
    output: str


length = project.scorers.create(name="Short enough", handler=lambda output: len(output) < 100, parameters=Output)
print("scorers:", polite.slug, length.slug, length.handler("ok"))

answer = project.publish()
print("published:", [(f["slug"], f["found_existing"]) for f in answer["functions"]])
