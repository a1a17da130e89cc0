"""`kseq serve RUN_DIR`: TensorFlow Serving's REST predict API on a laptop, with dynamic batching.

A client written for TF Serving (`POST /v1/models/<name>[/versions/N]:predict`
with `instances` or `inputs`, `GET /v1/models/<name>` and `/metadata`) works
unchanged against it; `/` is a page to try the model. Built on FastAPI and
uvicorn; requests that arrive together are decoded as one batch.
"""

import asyncio
import concurrent.futures
import json

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from kseq.backends import load
from kseq.run_directory import RunDirectory
from kseq.tasks import output_key

METHOD = "tensorflow/serving/predict"
TEXT_SIGNATURE = {"inputs": {"text": "DT_STRING"}, "outputs": {"translation": "DT_STRING", "ids": "DT_INT32"}}
IDS_SIGNATURE = {"inputs": {"source_ids": "DT_INT32"}, "outputs": {"ids": "DT_INT32"}}
MB = 1 << 20
DRAIN_S = 30.0  # how long the rest of an over-large body is read and dropped (nginx's lingering_time)


class BadRequest(ValueError):
    """A request the server refuses with a 4xx status and `{"error": message}`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class ServedModel:
    """A run directory's model behind TF Serving's signatures: name -> (rows in -> rows out).

    `serving_default` (text in; translation and ids out) on every backend;
    the SavedModel adds `translate_beam` and `translate_ids` (ids in, ids out).
    """

    def __init__(self, run_dir, backend="saved_model", variant="float32"):
        self.run_dir, self.backend = run_dir, backend
        run = RunDirectory(run_dir)
        self.config = run.config
        self.source_vocabulary, _ = run.vocabularies()
        self.max_source_length = self.config["model"]["max_source_length"]
        self.vocabulary_size = self.config["model"]["source_vocabulary_size"] or self.config["model"]["vocabulary_size"]
        self.task = run.task
        translator = load(run_dir, backend, variant)
        self.version = run.saved_model_versions()[-1] if backend == "saved_model" else 1
        self.signatures = {"serving_default": (TEXT_SIGNATURE, translator.translate)}
        if backend == "saved_model":
            signatures = translator.loaded.signatures
            if "translate_beam" in signatures:
                self.signatures["translate_beam"] = (TEXT_SIGNATURE, _text_signature(signatures["translate_beam"]))
            self.signatures["translate_ids"] = (IDS_SIGNATURE, _ids_signature(signatures["translate_ids"]))

    def run(self, signature, values):
        """Values of the signature's one input, a list -> a dict of output lists."""
        if signature == "translate_ids":
            return {"ids": self.signatures[signature][1](values)}
        translations, ids = self.signatures[signature][1](values)
        return {"translation": list(translations), "ids": np.asarray(ids).tolist()}

    def truncated(self, texts):
        """Indices of the texts longer than the model reads (they are cut, as in the exports)."""
        lengths = map(len, self.source_vocabulary.encode(texts))
        return [i for i, length in enumerate(lengths) if length > self.max_source_length - 1]

    def metadata(self, name):
        signature_def = {
            signature: {
                "inputs": {key: {"dtype": dtype, "name": key} for key, dtype in spec["inputs"].items()},
                "outputs": {key: {"dtype": dtype, "name": key} for key, dtype in spec["outputs"].items()},
                "method_name": METHOD,
            }
            for signature, (spec, _) in self.signatures.items()
        }
        settings = self.config["settings"]
        return {
            "model_spec": {"name": name, "signature_name": "", "version": str(self.version)},
            "metadata": {"signature_def": {"signature_def": signature_def}},
            "kseq": {
                "task": self.task, "output_key": output_key(self.task), "backend": self.backend,
                "source_language": settings.get("source_language"), "target_language": settings.get("target_language"),
                "vocabulary_size": self.config["tokenizer"]["vocabulary_size"],
                "max_source_length": self.max_source_length,
                "max_target_length": self.config["model"]["max_target_length"],
                "layers": [self.config["model"]["num_encoder_layers"], self.config["model"]["num_decoder_layers"]],
                "hidden_dim": self.config["model"]["hidden_dim"],
            },
        }


def _text_signature(function):
    import tensorflow as tf

    def run(texts):
        outputs = function(text=tf.constant(list(texts), tf.string))
        return [t.decode("utf-8") for t in outputs["translation"].numpy()], outputs["ids"].numpy()

    return run


def _ids_signature(function):
    import tensorflow as tf

    def run(rows):
        width = max(1, max(map(len, rows)))
        ids = np.zeros((len(rows), width), np.int32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return function(source_ids=tf.constant(ids))["ids"].numpy().tolist()

    return run


class DynamicBatcher:
    """Merges the rows of requests that arrive together into one model call.

    The first waiting request opens a batch; others join it until it holds
    `max_batch_size` rows or `timeout_s` has passed (a request that would
    overflow it opens the next; one larger than `max_batch_size` is decoded
    in chunks). The model runs in one thread (backends are not all
    thread-safe); each request gets its own rows back, with the number of rows
    decoded together. If a merged batch fails, its requests run alone, so an
    error reaches only the request that caused it. With `merge=False` every
    request runs alone.
    """

    def __init__(self, model, max_batch_size=32, timeout_s=0.002, merge=True):
        self.model = model
        self.max_batch_size, self.timeout_s, self.merge = max_batch_size, timeout_s, merge
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kseq-model")
        self.queues = {}
        self.workers = []

    async def submit(self, signature, values):
        if signature not in self.queues:
            self.queues[signature] = asyncio.Queue()
            self.workers.append(asyncio.create_task(self._work(signature)))
        future = asyncio.get_running_loop().create_future()
        await self.queues[signature].put((values, future))
        return await future

    async def _work(self, signature):
        queue, loop = self.queues[signature], asyncio.get_running_loop()
        carried = None  # a request that would have overflowed the last batch opens the next
        while True:
            batch = [carried or await queue.get()]
            carried = None
            rows, deadline = len(batch[0][0]), loop.time() + self.timeout_s
            while self.merge and rows < self.max_batch_size:
                try:
                    item = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    break
                if rows + len(item[0]) > self.max_batch_size:
                    carried = item
                    break
                batch.append(item)
                rows += len(item[0])
            try:
                await self._run(signature, batch)
            except Exception:  # one request's input broke the batch: run each alone, so it fails alone
                for item in batch:
                    try:
                        await self._run(signature, [item])
                    except Exception as error:
                        if not item[1].done():
                            item[1].set_exception(error)

    async def _run(self, signature, batch):
        """Decodes the batch's rows, `max_batch_size` at a time, and answers each request with its own."""
        loop = asyncio.get_running_loop()
        values = [value for item, _ in batch for value in item]
        outputs = {}
        for start in range(0, len(values), self.max_batch_size):
            chunk = await loop.run_in_executor(
                self.executor, self.model.run, signature, values[start : start + self.max_batch_size])
            for key, value in chunk.items():
                outputs.setdefault(key, []).extend(value)
        start = 0
        for item, future in batch:
            if not future.done():  # its client may have gone
                future.set_result(({key: value[start : start + len(item)] for key, value in outputs.items()},
                                   min(len(values), self.max_batch_size)))
            start += len(item)

    def close(self):
        for worker in self.workers:
            worker.cancel()
        self.executor.shutdown(wait=True)


async def read_body(request, max_bytes):
    """The request's body, or a BadRequest (413) once it is over `max_bytes` (counted as it streams).

    The rest of an over-large body is read and dropped first (for up to
    `DRAIN_S`): a server that closes the connection with it unread resets it,
    and the client never sees the 413. A client that declares too long a body
    and waits for `100 Continue` is answered before it sends.
    """
    too_large = BadRequest(f"The body is over {max_bytes} bytes (--max-body-mb {max_bytes / MB:g}).", 413)
    length = request.headers.get("content-length", "")
    over = length.isdigit() and int(length) > max_bytes
    if over and request.headers.get("expect", "").lower() == "100-continue":
        raise too_large
    loop, body, size, deadline = asyncio.get_running_loop(), bytearray(), 0, None
    async for chunk in request.stream():
        size += len(chunk)
        over = over or size > max_bytes
        if not over:
            body += chunk
        elif deadline is None:
            deadline = loop.time() + DRAIN_S
        elif loop.time() > deadline:
            break
    if over:
        raise too_large
    return bytes(body)


def parse_predict(body, model):
    """A TF Serving predict request -> (signature, input values, "row" or "columnar")."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    if not isinstance(request, dict):
        raise BadRequest("The body must be a JSON object with \"instances\" or \"inputs\".")
    signature = request.get("signature_name", "serving_default")
    if not isinstance(signature, str) or signature not in model.signatures:
        raise BadRequest(f"Serving signature name: {json.dumps(signature)} not found in signature def; "
                         f"this model has {', '.join(model.signatures)}.")
    (name, dtype), = model.signatures[signature][0]["inputs"].items()
    if ("instances" in request) == ("inputs" in request):
        raise BadRequest("The request needs exactly one of \"instances\" (row format) or \"inputs\" (columnar).")
    if "instances" in request:
        rows, layout = request["instances"], "row"
        if not isinstance(rows, list):
            raise BadRequest("\"instances\" must be a list.")
        values = [row[name] if isinstance(row, dict) and name in row else row for row in rows]
        if any(isinstance(row, dict) for row in values):
            raise BadRequest(f"Each instance must hold the input {json.dumps(name)} of signature {signature}.")
    else:
        inputs, layout = request["inputs"], "columnar"
        values = inputs[name] if isinstance(inputs, dict) and name in inputs else inputs
        if isinstance(inputs, dict) and name not in inputs:
            raise BadRequest(f"\"inputs\" lacks {json.dumps(name)}, the input of signature {signature}.")
        if not isinstance(values, list):
            values = [values]
    if not values:
        raise BadRequest("The request has no instances: send at least one.")
    if dtype == "DT_STRING":
        if not all(isinstance(v, str) for v in values):
            raise BadRequest(f"Input {json.dumps(name)} of signature {signature} takes strings.")
        for i, value in enumerate(values):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:  # JSON allows lone surrogates; UTF-8 does not
                raise BadRequest(f"Text {i} is not valid Unicode ({error.reason} at {error.start}).") from None
    if dtype == "DT_INT32":
        size, longest = model.vocabulary_size, model.max_source_length
        if not all(isinstance(v, list) and 0 < len(v) <= longest and all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < size for i in v) for v in values):
            raise BadRequest(f"Input {json.dumps(name)} of signature {signature} takes lists of 1 to {longest} "
                             f"ids, each in [0, {size}).")
    return signature, values, layout


def create_app(model, name="kseq", max_batch_size=32, batch_timeout_ms=2.0, max_body_bytes=MB, batching=True):
    """The FastAPI application serving a `ServedModel` under the model name `name`."""
    batcher = DynamicBatcher(model, max_batch_size, batch_timeout_ms / 1000, merge=batching)
    app = FastAPI(title="kseq serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.on_shutdown.append(batcher.close)

    def check_model(model_name, version=None):
        if model_name != name:
            raise BadRequest(f"Servable not found for request: Latest({model_name}); this server serves {name}.", 404)
        if version is not None and str(version) != str(model.version):
            raise BadRequest(f"Servable not found for request: Specific({model_name}, {version}); "
                             f"version {model.version} is served.", 404)

    @app.exception_handler(BadRequest)
    async def bad_request(request, error):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(Exception)
    async def failure(request, error):  # a model failure still answers in JSON
        return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=500)

    @app.get("/", response_class=HTMLResponse)
    async def page():
        return PAGE.replace("__MODEL__", json.dumps(name))

    async def status(model_name, version=None):
        check_model(model_name, version)
        return {"model_version_status": [{"version": str(model.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    async def metadata(model_name, version=None):
        check_model(model_name, version)
        return model.metadata(name)

    async def predict(request: Request, model_name, version=None):
        check_model(model_name, version)
        signature, values, layout = parse_predict(await read_body(request, max_body_bytes), model)
        outputs, batch_rows = await batcher.submit(signature, values)
        headers = {"X-Kseq-Batch-Rows": str(batch_rows)}
        if signature != "translate_ids":
            truncated = model.truncated(values)
            if truncated:  # the body stays what TF Serving returns; the header says what was cut
                headers["X-Kseq-Truncated"] = ",".join(map(str, truncated))
        if layout == "row":
            keys = list(outputs)
            return JSONResponse({"predictions": [dict(zip(keys, row)) for row in zip(*outputs.values())]},
                                headers=headers)
        return JSONResponse({"outputs": outputs}, headers=headers)

    app.add_api_route("/v1/models/{model_name}", status, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/versions/{version}", status, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/metadata", metadata, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}/versions/{version}/metadata", metadata, methods=["GET"])
    app.add_api_route("/v1/models/{model_name}:predict", predict, methods=["POST"])
    app.add_api_route("/v1/models/{model_name}/versions/{version}:predict", predict, methods=["POST"])
    return app


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kseq</title>
<style>
 body { font: 16px system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
 textarea { width: 100%; font: inherit; padding: .5rem; box-sizing: border-box; }
 button { font: inherit; padding: .4rem 1.2rem; margin: .5rem 0; }
 #output { min-height: 2rem; padding: .5rem; background: #f3f3f3; white-space: pre-wrap; }
 #meta { color: #555; font-size: .85rem; margin-top: 2rem; }
 #error { color: #b00; }
</style></head>
<body>
<h1>kseq</h1>
<label for="text">Input</label>
<textarea id="text" rows="3" autofocus placeholder="One sentence a line"></textarea>
<button id="go">Translate</button>
<div><b id="label">Output</b></div>
<div id="output"></div>
<div id="error"></div>
<div id="meta"></div>
<script>
const model = __MODEL__;
const buttons = {translation: "Translate", summarization: "Summarize", "text2text-generation": "Generate"};
const outputs = {translation: "Translation", summarization: "Summary", "text2text-generation": "Generated text"};
fetch(`/v1/models/${model}/metadata`).then(r => r.json()).then(m => {
  const k = m.kseq;
  document.getElementById("go").textContent = buttons[k.task] || "Run";
  document.getElementById("label").textContent = `${outputs[k.task] || "Output"} (${k.output_key})`;
  const languages = k.source_language ? `${k.source_language} → ${k.target_language}, ` : "";
  document.getElementById("meta").textContent =
    `${k.task}, ${languages}backend ${k.backend}, version ${m.model_spec.version}, ` +
    `vocabulary ${k.vocabulary_size}, ${k.layers[0]} + ${k.layers[1]} layers of width ${k.hidden_dim}, ` +
    `inputs up to ${k.max_source_length} pieces, outputs up to ${k.max_target_length}.`;
});
// Each non-empty line is its own input (the model reads one sentence at a time), all in one
// request; each output sits on its input's line, and blank lines stay blank.
document.getElementById("go").onclick = async () => {
  document.getElementById("error").textContent = "";
  const lines = document.getElementById("text").value.split("\\n");
  const texts = lines.filter(line => line.trim());
  if (!texts.length) { document.getElementById("output").textContent = ""; return; }
  const response = await fetch(`/v1/models/${model}:predict`, {method: "POST",
    body: JSON.stringify({instances: texts.map(text => ({text}))})});
  const result = await response.json();
  if (!response.ok) { document.getElementById("error").textContent = result.error; return; }
  const outputs = result.predictions.map(p => p.translation);
  document.getElementById("output").textContent = lines.map(line => line.trim() ? outputs.shift() : "").join("\\n");
};
</script>
</body></html>
"""
