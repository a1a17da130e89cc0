"""`kseq serve`'s HTTP app: TensorFlow Serving's REST predict API, and a page to try the model.

A client written for TF Serving (`POST /v1/models/<name>[/versions/N]:predict`
with `instances` or `inputs`, `GET /v1/models/<name>` and `/metadata`) works
unchanged against it; `/` is a page to try the model (`kseq/static/index.html`).
Built on FastAPI; requests that arrive together are decoded as one batch
(`kseq.dynamic_batcher`).
"""

import asyncio
import importlib.resources
import json

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from kseq.dynamic_batcher import DynamicBatcher

METHOD = "tensorflow/serving/predict"
MB = 1 << 20
DRAIN_S = 30.0  # how long the rest of an over-large body is read and dropped (nginx's lingering_time)


class BadRequest(ValueError):
    """A request the server refuses with a 4xx status and `{"error": message}`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def create_app(model, name="kseq", max_batch_size=32, batch_timeout_ms=2.0, max_body_bytes=MB, batching=True):
    """The FastAPI application serving a `kseq.served_model.ServedModel` under the model name `name`."""
    batcher = DynamicBatcher(model, max_batch_size, batch_timeout_ms / 1000, merge=batching)
    api = ModelAPI(model, name, batcher, max_body_bytes)
    app = FastAPI(title="kseq serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.on_shutdown.append(batcher.close)
    app.add_exception_handler(BadRequest, answer_bad_request)
    app.add_exception_handler(Exception, answer_failure)
    app.add_api_route("/", api.page, methods=["GET"], response_class=HTMLResponse)
    for path, endpoint, method in (
            ("/v1/models/{model_name}", api.status, "GET"),
            ("/v1/models/{model_name}/versions/{version}", api.status, "GET"),
            ("/v1/models/{model_name}/metadata", api.metadata, "GET"),
            ("/v1/models/{model_name}/versions/{version}/metadata", api.metadata, "GET"),
            ("/v1/models/{model_name}:predict", api.predict, "POST"),
            ("/v1/models/{model_name}/versions/{version}:predict", api.predict, "POST")):
        app.add_api_route(path, endpoint, methods=[method])
    return app


class ModelAPI:
    """The answers to TF Serving's REST requests (and to `/`) for one model, served as `name`."""

    def __init__(self, model, name, batcher, max_body_bytes):
        self.model, self.name, self.batcher, self.max_body_bytes = model, name, batcher, max_body_bytes
        self.html = page_html(name)

    async def page(self):
        return self.html

    async def status(self, model_name, version=None):
        self.check_servable(model_name, version)
        return {"model_version_status": [{"version": str(self.model.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    async def metadata(self, model_name, version=None):
        self.check_servable(model_name, version)
        return model_metadata(self.model, self.name)

    async def predict(self, request: Request, model_name, version=None):
        self.check_servable(model_name, version)
        signature, values, layout = parse_predict(await read_body(request, self.max_body_bytes), self.model)
        outputs, batch_rows = await self.batcher.submit(signature, values)
        headers = {"X-Kseq-Batch-Rows": str(batch_rows)}
        if signature != "translate_ids":
            truncated = self.model.truncated(values)
            if truncated:  # the body stays what TF Serving returns; the header says what was cut
                headers["X-Kseq-Truncated"] = ",".join(map(str, truncated))
        return JSONResponse(predict_body(outputs, layout), headers=headers)

    def check_servable(self, model_name, version=None):
        """A 404 for another model's name or another version, as TF Serving answers it."""
        if model_name != self.name:
            raise BadRequest(f"Servable not found for request: Latest({model_name}); "
                             f"this server serves {self.name}.", 404)
        if version is not None and str(version) != str(self.model.version):
            raise BadRequest(f"Servable not found for request: Specific({model_name}, {version}); "
                             f"version {self.model.version} is served.", 404)


async def answer_bad_request(request, error):
    return JSONResponse({"error": str(error)}, status_code=error.status)


async def answer_failure(request, error):
    """A model failure still answers in JSON."""
    return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=500)


def page_html(name):
    """The page to try the model (`kseq/static/index.html`), speaking to the model `name`."""
    page = importlib.resources.files("kseq").joinpath("static", "index.html").read_text(encoding="utf-8")
    return page.replace("__MODEL__", json.dumps(name))


def model_metadata(model, name):
    """TF Serving's metadata answer: the model's signatures, and under `kseq` its summary."""
    signature_def = {
        signature: {
            "inputs": {key: {"dtype": dtype, "name": key} for key, dtype in spec["inputs"].items()},
            "outputs": {key: {"dtype": dtype, "name": key} for key, dtype in spec["outputs"].items()},
            "method_name": METHOD,
        }
        for signature, (spec, _) in model.signatures.items()
    }
    return {
        "model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
        "metadata": {"signature_def": {"signature_def": signature_def}},
        "kseq": model.summary,
    }


def predict_body(outputs, layout):
    """TF Serving's predict answer: one object a row (`predictions`) or one list an output (`outputs`)."""
    if layout == "row":
        keys = list(outputs)
        return {"predictions": [dict(zip(keys, row)) for row in zip(*outputs.values())]}
    return {"outputs": outputs}


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
    """A TF Serving predict request -> (signature, input values, "row" or "columnar").

    Raises a BadRequest that says what is wrong: not JSON, an unknown
    signature, neither or both of `instances` and `inputs`, no values, or
    values of the wrong kind for the signature's input.
    """
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
    values, layout = _input_values(request, name, signature)
    if dtype == "DT_STRING":
        _check_texts(values, name, signature)
    if dtype == "DT_INT32":
        _check_ids(values, name, signature, model.vocabulary_size, model.max_source_length)
    return signature, values, layout


def _input_values(request, name, signature):
    """The values of the input `name`, from `instances` (-> "row") or `inputs` (-> "columnar")."""
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
    return values, layout


def _check_texts(values, name, signature):
    if not all(isinstance(v, str) for v in values):
        raise BadRequest(f"Input {json.dumps(name)} of signature {signature} takes strings.")
    for i, value in enumerate(values):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:  # JSON allows lone surrogates; UTF-8 does not
            raise BadRequest(f"Text {i} is not valid Unicode ({error.reason} at {error.start}).") from None


def _check_ids(values, name, signature, vocabulary_size, max_length):
    if not all(isinstance(v, list) and 0 < len(v) <= max_length and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < vocabulary_size for i in v) for v in values):
        raise BadRequest(f"Input {json.dumps(name)} of signature {signature} takes lists of 1 to {max_length} "
                         f"ids, each in [0, {vocabulary_size}).")
