"""Eval() with classifiers: every return shape (a dict, a Classification, several with names and
two of one name, None, an empty list), an async classifier, classifiers beside a scorer; then
classifiers alone, one raising, one returning a bare string, one a dict without an id, one a
generator. Public API only."""
import asyncio

from braintrust import Classification, Eval


def tone(output):  # a dict
    return {"id": "excited" if "!" in output else "calm", "label": "Tone", "metadata": {"chars": len(output)}}


def topic(input, output):  # a Classification object, named by the classifier
    return Classification(id="greeting", label="Greeting")


def facets(output):  # several: each names itself, two share a name
    return [{"name": "lang", "id": "en"}, {"name": "style", "id": "upper", "label": "Upper"}, Classification(id="short", name="style")]


def nothing(output):  # None: no classification, no output
    return None


def empty(output):  # []
    return []


async def async_tone(output):
    await asyncio.sleep(0)
    return {"id": "async", "metadata": None}


def exact(output, expected):
    return 1.0 if output == expected else 0.0


def shout(input):
    return input.upper() + ("!" if input == "hi" else "")


result = Eval(
    "recorder-classifiers",
    data=[{"input": "hi", "expected": "HI!"}, {"input": "yo", "expected": "no"}],
    task=shout,
    scores=[exact],
    classifiers=[tone, topic, facets, nothing, empty, async_tone],
    experiment_name="classifiers-clean",
    max_concurrency=1,
)
print("RESULT classifications:", [r.classifications for r in result.results])
print("RESULT scores:", [r.scores for r in result.results])


def broken(output):
    raise ValueError("classifier exploded")


def bare_string(output):
    return "positive"


def no_id(output):
    return {"label": "no id"}


def generated(output):
    yield {"id": "first"}
    yield {"id": "second", "name": "other"}


result2 = Eval(
    "recorder-classifiers",
    data=[{"input": "x"}],
    task=lambda input: input,
    classifiers=[broken, bare_string, no_id, generated, tone],
    experiment_name="classifiers-errors",
)
print("RESULT2 classifications:", [r.classifications for r in result2.results])
print("RESULT2 metadata:", [sorted((r.metadata or {}).keys()) for r in result2.results])
print("RESULT2 errors:", [repr(r.error) for r in result2.results])
