"""Attachments: Attachment (bytes and file path), JSONAttachment (compact and pretty), ExternalAttachment,
nested in input/output/metadata lists and dicts, one Attachment object logged in two rows, an attachment in a
@traced span and a start_span span, an experiment row with an attachment output; then flush and read one back
with ReadonlyAttachment (.data, .status()). Public API only.

Order of output: the rows are logged, ``braintrust.flush()`` uploads the attachments (after /logs3), then
"flushed" is printed, then the read-back (GET /attachment + GET of the download URL) is printed."""
import os
import tempfile

import braintrust
from braintrust import Attachment, ExternalAttachment, JSONAttachment, ReadonlyAttachment, start_span, traced

folder = tempfile.TemporaryDirectory(prefix="bt-att-")  # (removed at exit)
tmp = folder.name
png_path = os.path.join(tmp, "pixel.png")
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(16))
with open(png_path, "wb") as f:
    f.write(PNG_BYTES)

logger = braintrust.init_logger(project="recorder-attachments")

note = Attachment(data=b"hello attachment bytes\n", filename="note.txt", content_type="text/plain")
image = Attachment(data=png_path, filename="pixel.png", content_type="image/png")
compact = JSONAttachment({"a": 1, "b": [1, 2]}, filename="data.json")
pretty = JSONAttachment({"a": 1, "b": [1, 2]}, filename="pretty.json", pretty=True)
external = ExternalAttachment(url="https://example.com/x.pdf", filename="x.pdf", content_type="application/pdf")
shared = Attachment(data=b"shared between two rows", filename="shared.txt", content_type="text/plain")

print("note.reference keys:", sorted(note.reference))
print("note.reference type/filename/content_type:", note.reference["type"], note.reference["filename"], note.reference["content_type"])
print("external.reference:", external.reference)
print("compact.data:", compact.data)
print("pretty.data:", pretty.data)

logger.log(input={"question": "what is in the note?", "file": note}, output="a greeting", id="att-row-1")
logger.log(
    input="look at the picture",
    output=[{"kind": "image", "file": image}, "caption"],
    metadata={"attachments": {"json": [compact, pretty], "external": external}},
    id="att-row-2",
)
logger.log(input={"file": shared}, output="first use", id="att-row-3")
logger.log(input={"file": shared}, output="second use", id="att-row-4")


@traced
def describe(attachment):
    return {"described": attachment.reference["filename"], "copy": attachment}


describe(Attachment(data=b"traced bytes", filename="traced.bin", content_type="application/octet-stream"))

with start_span(name="span-with-attachment") as span:
    span.log(output={"report": Attachment(data=b"span output bytes", filename="report.txt", content_type="text/plain")})

exp = braintrust.init(project="recorder-attachments", experiment="att-exp")
exp.log(
    input={"prompt": "draw a pixel"},
    output=Attachment(data=b"experiment output bytes", filename="exp.txt", content_type="text/plain"),
    scores={"s": 1},
)

braintrust.flush()
exp.flush()
print("flushed")

readonly = ReadonlyAttachment(note.reference)
print("readback data:", readonly.data)
print("readback status:", readonly.status())
print("readback image equal:", ReadonlyAttachment(image.reference).data == PNG_BYTES)
