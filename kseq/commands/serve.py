"""kseq serve RUN_DIR [--port 8501]: TensorFlow Serving's REST predict API on a laptop, with dynamic batching.

A client written for TF Serving (`POST /v1/models/<name>[/versions/N]:predict`
with `instances` or `inputs`, `GET /v1/models/<name>` and `/metadata`) works
unchanged against it; `/` is a page to try the model.
"""

from kseq.backends import BACKENDS, VARIANTS
from kseq.errors import UsageError

HELP = "TF Serving's REST API and a page to try the model."


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--backend", choices=BACKENDS, default="saved_model")
    parser.add_argument("--variant", choices=VARIANTS, default="float32", help="TFLite weights.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default: loopback only).")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--model-name", default="kseq", help="The <name> of /v1/models/<name> (default: kseq).")
    parser.add_argument("--max-batch-size", type=int, default=32, help="Most rows decoded at once.")
    parser.add_argument("--batch-timeout-ms", type=float, default=2.0,
                        help="How long a batch waits for more requests.")
    parser.add_argument("--no-batching", action="store_true", help="Decode every request alone.")
    parser.add_argument("--max-body-mb", type=float, default=1.0,
                        help="Largest request body, in MB of 2**20 bytes; a larger one gets 413 (default: 1).")


def run(args):
    import os

    import uvicorn

    from kseq.served_model import ServedModel
    from kseq.serving import MB, create_app

    if args.max_batch_size < 1:
        raise UsageError(f"--max-batch-size must be at least 1. Received: {args.max_batch_size}")
    if not args.max_body_mb > 0:
        raise UsageError(f"--max-body-mb must be above 0. Received: {args.max_body_mb}")
    model = ServedModel(args.run_dir, args.backend, args.variant)
    app = create_app(model, args.model_name, args.max_batch_size, args.batch_timeout_ms,
                     int(args.max_body_mb * MB), batching=not args.no_batching)
    print(f"Serving {os.path.abspath(args.run_dir)} ({args.backend}) as {args.model_name} on "
          f"http://{args.host}:{args.port}/", flush=True)
    # uvicorn finishes the requests in flight when it gets SIGTERM or SIGINT.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=30)
