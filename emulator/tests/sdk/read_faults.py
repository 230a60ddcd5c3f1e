"""The read faults as the official Python SDK (alibabacloud-iot20180120 5.1.0) meets them.

Usage: read_faults.py JSON, where JSON names the credentials, a product with 20+ devices and one
emulator per fault, each started with that fault at rate 1:
{"ak", "secret", "product_key", "stall_seconds",
 "churn": "127.0.0.1:PORT", "stall": ..., "throttle": ..., "error5xx": ...}

- churn: QueryDevice's Total changes from the first page to the second, and so does
  ListDistributedDevice's.
- stall: with a read timeout of 1 s the SDK raises a timeout, well before the emulator would hang up.
- throttle: every read API answers Throttling.User (HTTP 400) within 10 calls.
- error5xx: every read API answers InternalError (500) or ServiceUnavailable (503).

Prints one JSON line with what it saw, then "read faults: N checks passed". A failed check raises.
"""

import json
import sys
import time

from alibabacloud_iot20180120 import models as m
from alibabacloud_iot20180120.client import Client
from alibabacloud_tea_openapi import exceptions
from alibabacloud_tea_openapi import models as open_api_models

CFG = json.loads(sys.argv[1])
CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def client(fault, read_timeout_ms=10000):
    config = open_api_models.Config(
        access_key_id=CFG["ak"],
        access_key_secret=CFG["secret"],
        endpoint=CFG[fault],
        protocol="http",
        read_timeout=read_timeout_ms,
        connect_timeout=1000,
    )
    return Client(config)


def reads(c):
    """One call of each read API the faults strike, by name."""
    pk = CFG["product_key"]
    return {
        "QueryDevice": lambda: c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=5, current_page=2)),
        "QueryProductList": lambda: c.query_product_list(m.QueryProductListRequest(page_size=10, current_page=1)),
        "ListDistributedDevice": lambda: c.list_distributed_device(
            m.ListDistributedDeviceRequest(page_size=10, current_page=1)
        ),
        "BatchQueryDeviceDetail": lambda: c.batch_query_device_detail(
            m.BatchQueryDeviceDetailRequest(product_key=pk, device_name=["dev-0001"])
        ),
    }


def main():
    seen = {}
    pk = CFG["product_key"]

    # churn: a first page is never struck (and undoes any change); the next page is, at rate 1.
    c = client("churn")
    totals = [
        c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=5, current_page=page)).body.total
        for page in (1, 2)
    ]
    check(abs(totals[1] - totals[0]) == 1, f"churn: QueryDevice Total {totals}")
    listed = [
        c.list_distributed_device(m.ListDistributedDeviceRequest(page_size=10, current_page=page)).body.data.total
        for page in (1, 2)
    ]
    check(abs(listed[1] - listed[0]) == 1, f"churn: ListDistributedDevice Total {listed}")
    seen["churn"] = {"QueryDevice": totals, "ListDistributedDevice": listed}

    # stall: the answer never comes; the SDK's read timeout ends the call.
    c = client("stall", read_timeout_ms=1000)
    started = time.monotonic()
    try:
        c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=5, current_page=1))
        raise AssertionError("stall: QueryDevice was answered")
    except AssertionError:
        raise
    except Exception as err:  # the SDK wraps the transport's timeout in its own exception types
        waited = time.monotonic() - started
        text = f"{type(err).__name__}: {err}"
        check("timed out" in text.lower() or "timeout" in text.lower(), f"stall: not a timeout: {text}")
        check(waited < CFG["stall_seconds"], f"stall: waited {waited:.1f}s, the emulator holds {CFG['stall_seconds']}s")
        seen["stall"] = text[:200]

    # throttle and error5xx strike the read calls too. A throttle burst starts at a call with
    # probability RATE/3, so at rate 1 a call may still pass: each API is called until refused.
    for fault, codes in (("throttle", {"Throttling.User": 400}), ("error5xx", {"InternalError": 500, "ServiceUnavailable": 503})):
        got = {}
        for api, call in reads(client(fault)).items():
            for attempt in range(10):
                try:
                    call()
                except (exceptions.ClientException, exceptions.ServerException) as err:
                    check(codes.get(err.code) == err.status_code, f"{fault}: {api}: {err.code} {err.status_code}")
                    got[api] = [err.code, attempt + 1]
                    break
            else:
                raise AssertionError(f"{fault}: {api} answered 10 times")
        seen[fault] = got

    print(json.dumps(seen))
    print(f"read faults: {CHECKS} checks passed")


if __name__ == "__main__":
    main()
