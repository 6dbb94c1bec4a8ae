"""Session caps hold across nodes: checked and the session created in one atomic step."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.multinode.conftest import Cluster

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.integration]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        cluster = Cluster(tmp_path_factory.mktemp("capped"), nodes=2, REALTIME_MAX_PER_CLIENT="10")
        cluster.start_redis()
        stack.callback(cluster.stop_redis)
        for index in range(2):
            stack.callback(cluster.terminate, index)
        cluster.ensure_all_running()
        yield cluster


async def test_200_concurrent_negotiations_over_two_nodes_accept_exactly_the_cap(
    capped: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as http:
        answers = await asyncio.gather(
            *(http.post(f"{capped.direct(i % 2)}/rt/negotiate", json={}) for i in range(200))
        )
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: 10, 429: 190}
