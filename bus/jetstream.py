"""The NATS JetStream source: a durable pull consumer (nats-py).

The consumer named `durable` lives on the server: it remembers what was acknowledged, so a
restarted `ballast consume` continues where the last one acknowledged, and what was delivered
but never acknowledged (a crash) is delivered again once `ack_wait` has passed. Acknowledgement
is explicit and per message.

nats-py is asynchronous; this adapter runs its own event loop and blocks in each call, so the
consumer stays a plain loop. Its errors are translated here, and only here, into `BusError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from ballast.bus.port import BusError, Delivery, Position

T = TypeVar("T")
LOOKUPS = 1000  # messages `lost` looks up one by one in a gap
DEFAULT_ACK_WAIT = 30.0  # seconds before an unacknowledged delivery is delivered again (JetStream's default)


class JetStream:
    """Deliveries from the JetStream `stream`, for `subject`, through the durable consumer `durable`.

    `url`: the server (`nats://127.0.0.1:4222`). The stream must exist (`nats stream add`); the
    durable consumer is created on first use with explicit acks and `ack_wait` seconds, and
    reused as it is afterwards. Raises BusError when the server cannot be reached or the
    stream does not exist.
    """

    remembers_acks = True

    def __init__(
        self,
        url: str,
        stream: str,
        subject: str,
        durable: str,
        *,
        ack_wait: float = DEFAULT_ACK_WAIT,
        connect_timeout: float = 5.0,
    ) -> None:
        try:
            import nats
            from nats.js.api import AckPolicy, ConsumerConfig
        except ImportError:
            raise BusError("--source nats://… needs nats-py: pip install 'ballast[bus]'") from None
        self.name = f"{url}/{stream}"
        self.url, self.stream, self.subject, self.durable = url, stream, subject, durable
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None
        self._problems: list[Exception] = []  # what nats-py reports through its error callback

        async def note(exc: Exception) -> None:  # instead of nats-py's default: a traceback on stderr
            self._problems.append(exc)

        try:
            with self._errors("connect to"):
                self._nc = self._run(
                    nats.connect(
                        url,
                        connect_timeout=connect_timeout,
                        max_reconnect_attempts=1,  # 0 would mean "forever" to nats-py: a hang, not an error
                        reconnect_time_wait=0.2,
                        error_cb=note,
                    )
                )
                self._js = self._nc.jetstream()
                self._jsm = self._nc.jsm()
            with self._errors(f"find the stream {stream} on"):
                self._run(self._jsm.stream_info(stream))
            config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait)
            with self._errors(f"open the durable consumer {durable} of"):
                self._sub = self._run(self._js.pull_subscribe(subject, durable=durable, stream=stream, config=config))
        except BaseException:
            self.close()
            raise

    def fetch(self, limit: int, timeout: float) -> Sequence[Delivery]:
        try:
            with self._errors("fetch from"):
                messages = self._run(self._sub.fetch(batch=limit, timeout=timeout))
        except BusError as exc:
            # Nothing arrived in time. nats-py raises its own TimeoutError, or asyncio's from
            # inside the pull request when the host is busy: both mean no messages, not a dead
            # server (that is a connection error), so the consumer polls again.
            if isinstance(exc.__cause__, TimeoutError):
                return []
            raise
        out = []
        for message in messages:
            meta = message.metadata
            seq = meta.sequence.stream
            where = f"{self.name} sequence {seq}"
            out.append(Delivery(message.data, Position(self.stream, seq), where, meta.num_delivered > 1, message))
        return out

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        async def acknowledge() -> None:
            for d in deliveries:
                await d.handle.ack()
            await self._nc.flush()  # the acks have reached the server when this returns

        with self._errors("acknowledge to"):
            self._run(acknowledge())

    def nak(self, deliveries: Sequence[Delivery]) -> None:
        async def give_back() -> None:
            for d in deliveries:
                await d.handle.nak()
            await self._nc.flush()

        with self._errors("give messages back to"):
            self._run(give_back())

    def lost(self, partition: str, first: int, last: int) -> list[int]:
        """The sequences in [first, last] the stream no longer holds (deleted, expired by its limits).

        Everything below the stream's first sequence is gone; above it, each message is looked up,
        at most `LOOKUPS` of them (beyond, a gap that large is reported from its first part).
        """
        from nats.js.errors import NotFoundError

        async def missing() -> list[int]:
            info = await self._jsm.stream_info(partition)
            oldest = info.state.first_seq
            gone = list(range(first, min(last, oldest - 1) + 1))
            start = max(first, oldest)
            for seq in range(start, min(last, start + LOOKUPS - 1) + 1):
                try:
                    await self._jsm.get_msg(partition, seq)
                except NotFoundError:
                    gone.append(seq)
            return gone

        with self._errors("read the stream on"):
            return self._run(missing())

    def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):  # closing: nothing left to report to
                self._run(self._nc.close())
        if not self._loop.is_closed():
            self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """nats-py's exceptions as one BusError naming the server and what was being done."""
        import nats.errors
        from nats.js.errors import NotFoundError

        try:
            yield
        except NotFoundError as exc:
            raise BusError(
                f"{self.url}: cannot {doing} the server: not found ({exc.description or exc}); "
                f"create the stream first, e.g. `nats stream add {self.stream} --subjects '{self.subject}'`"
            ) from exc
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            cause = self._problems[-1] if isinstance(exc, nats.errors.NoServersError) and self._problems else exc
            detail = str(cause) or type(cause).__name__
            raise BusError(f"{self.url}: cannot {doing} the server: {detail}") from exc


__all__ = ["DEFAULT_ACK_WAIT", "JetStream"]
