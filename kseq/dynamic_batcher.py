"""Dynamic batching for a server: the rows of requests that arrive together, decoded in one model call."""

import asyncio
import concurrent.futures


class DynamicBatcher:
    """Merges the rows of requests that arrive together into one model call.

    The first waiting request opens a batch; others join it until it holds
    `max_batch_size` rows or `timeout_s` has passed (a request that would
    overflow it opens the next; one larger than `max_batch_size` is decoded
    in chunks). The model runs in one thread (translators are not all
    thread-safe); each request gets its own rows back, with the number of rows
    decoded together. If a merged batch fails, its requests run alone, so an
    error reaches only the request that caused it. Requests for different
    signatures are never merged.

    Args:
        model: anything with `run(signature, values) -> {output name: list, one item per value}`
            (`kseq.served_model.ServedModel`).
        max_batch_size: most rows in one model call.
        timeout_s: how long an open batch waits for more requests.
        merge: False runs every request alone.

    Example:
    >>> batcher = DynamicBatcher(model, max_batch_size=32, timeout_s=0.002)
    >>> outputs, rows_decoded_together = await batcher.submit("serving_default", ["Hello."])
    """

    def __init__(self, model, max_batch_size=32, timeout_s=0.002, merge=True):
        self.model = model
        self.max_batch_size, self.timeout_s, self.merge = max_batch_size, timeout_s, merge
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kseq-model")
        self.queues = {}
        self.workers = []

    async def submit(self, signature, values):
        """`values` (a list) through the signature -> (its outputs, the number of rows decoded with them)."""
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
        """Stops the workers and waits for the model call in progress."""
        for worker in self.workers:
            worker.cancel()
        self.executor.shutdown(wait=True)
