"""Drives a running `devdist emulate` with the official Python SDK (alibabacloud-iot20180120 5.1.0).

Usage: conformance.py JSON, where JSON names the endpoint, the credentials and demo devices:
{"endpoint": "127.0.0.1:PORT", "ak", "secret", "token", "account", "product_key", "source",
 "devices": [4+ names at home in source], "secrets": {name: DeviceSecret}, "target",
 "nearest": [2 instance ids], "regions": {instance id: region},
 "gateway": {"product_key", "device_name", "subs": [[product key, device name], ...]}}

Every API, both signature schemes (V3 default and v2), STS. Devices leave from where they are
now (a first distribution, a second hop, a return home, nearest access listing the source among
its candidates) and QueryDeviceProvisioning shows each one's last distribution; a device that
left home is refused there. A wrong secret, a skewed clock, a reused nonce, an unknown key and
throttling are refused with the right codes; every response is read through the SDK's models,
field by field. The read APIs (QueryProductList, QueryDevice, BatchQueryDeviceDetail,
GetThingTopo, ListDistributedDevice, ListDistributedProduct) are read through the SDK's models too,
their casing (`items`, `deviceInfo`, `ProductInfo`, QueryDevice's top-level paging) included, and
agree with QueryDeviceProvisioning. Prints one JSON line with what it did, then
"conformance: N checks passed". Any failed check raises (non-zero exit).
"""

import datetime
import json
import sys
import time
import urllib.request

from alibabacloud_iot20180120 import models as m
from alibabacloud_iot20180120.client import Client
from alibabacloud_tea_openapi import exceptions
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.utils import Utils

CFG = json.loads(sys.argv[1])
CHECKS = 0
CREATED = []


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def client(scheme, secret=None, token=None, ak=None):
    config = open_api_models.Config(
        access_key_id=ak or CFG["ak"],
        access_key_secret=secret or CFG["secret"],
        security_token=token,
        endpoint=CFG["endpoint"],
        protocol="http",
    )
    if scheme == "v2":
        config.signature_algorithm = "v2"
    return Client(config)


def refused(call, code, status, what):
    try:
        call()
    except exceptions.ClientException as err:
        check(err.code == code, f"{what}: code {err.code!r}, expected {code!r} ({err.message})")
        check(err.status_code == status, f"{what}: HTTP {err.status_code}, expected {status}")
        check(isinstance(err.request_id, str) and err.request_id, f"{what}: no RequestId")
        check(err.data.get("HostId") and err.data.get("Recommend"), f"{what}: gateway body lacks HostId/Recommend: {err.data}")
        return err
    raise AssertionError(f"{what}: {code} expected, the call succeeded")


def pace_create():
    # CreateDeviceDistributeJob allows 2 calls a second per account.
    time.sleep(0.6)


def create(c, devices, source, targets, strategy):
    pace_create()
    request = m.CreateDeviceDistributeJobRequest(
        device_name=devices,
        product_key=CFG["product_key"],
        source_instance_id=source,
        strategy=strategy,
        target_uid=CFG["account"],
        target_instance_config=[m.CreateDeviceDistributeJobRequestTargetInstanceConfig(target_instance_id=t) for t in targets],
    )
    return c.create_device_distribute_job(request).body


def wait_done(c, job_id, what):
    seen = []
    for _ in range(200):
        data = c.query_device_distribute_job(m.QueryDeviceDistributeJobRequest(job_id=job_id)).body.data
        if not seen or seen[-1] != data.status:
            seen.append(data.status)
        if data.status in (2, 3):
            check(seen[-1] == 2, f"{what}: job ended in status {seen}")
            check(seen == sorted(seen), f"{what}: statuses went backwards: {seen}")
            return data
        time.sleep(0.15)
    raise AssertionError(f"{what}: job {job_id} never ended ({seen})")


def exercise(scheme, c, devices, source, targets, strategy):
    """Distributes devices, now in source, to targets; the first target is where they go."""
    what = f"{scheme} strategy {strategy} {source} -> {targets}"
    body = create(c, devices, source, targets, strategy)
    check(isinstance(body, m.CreateDeviceDistributeJobResponseBody), f"{what}: Create body model")
    check(body.success is True, f"{what}: Create Success {body.success} {body.code} {body.error_message}")
    check(isinstance(body.job_id, str) and len(body.job_id) > 8, f"{what}: JobId {body.job_id!r}")
    check(isinstance(body.request_id, str) and len(body.request_id) == 36, f"{what}: RequestId {body.request_id!r}")
    job_id = body.job_id
    CREATED.append(job_id)

    data = wait_done(c, job_id, what)
    check(isinstance(data, m.QueryDeviceDistributeJobResponseBodyData), f"{what}: Query Data model")
    check(data.job_id == job_id and data.product_key == CFG["product_key"], f"{what}: Query ids")
    check(data.source_instance_id == source, f"{what}: SourceInstanceId")
    check(data.source_uid == CFG["account"] and data.target_uid == CFG["account"], f"{what}: uids are strings")
    check(data.strategy == strategy and data.total == len(devices), f"{what}: Strategy/Total {data.strategy} {data.total}")
    check(isinstance(data.gmt_create, int) and data.gmt_create > 1_600_000_000_000, f"{what}: GmtCreate {data.gmt_create!r}")
    got_targets = [t.target_instance_id for t in data.target_instance_configs.target_instance_configs]
    check(got_targets == targets, f"{what}: targets {got_targets}")

    detail = c.query_device_distribute_detail(m.QueryDeviceDistributeDetailRequest(job_id=job_id)).body
    check(isinstance(detail, m.QueryDeviceDistributeDetailResponseBody) and detail.success, f"{what}: Detail")
    check(detail.file.startswith("http://"), f"{what}: File {detail.file!r}")
    with urllib.request.urlopen(detail.file, timeout=10) as response:
        lines = [json.loads(line) for line in response.read().decode().splitlines()]
    check([line["DeviceName"] for line in lines] == devices, f"{what}: result file devices {lines}")
    check(all(line["ProductKey"] == CFG["product_key"] and line["Code"] == "200" for line in lines), f"{what}: codes {lines}")

    where = c.query_device_provisioning(
        m.QueryDeviceProvisioningRequest(product_key=CFG["product_key"], device_name=devices[0])
    ).body
    check(isinstance(where.data, m.QueryDeviceProvisioningResponseBodyData), f"{what}: Provisioning model")
    check(where.data.target_iot_instance_id == targets[0], f"{what}: provisioning shows {where.data.target_iot_instance_id}")
    check(where.data.source_iot_instance_id == source, f"{what}: provisioning shows it left from {where.data.source_iot_instance_id}")
    check(where.data.source_region == CFG["regions"][source] and where.data.aliyun_uid == CFG["account"], f"{what}: provisioning source")
    check(isinstance(where.data.gmt_modified, int) and where.data.device_name == devices[0], f"{what}: provisioning fields")
    check(where.data.target_region == CFG["regions"][targets[0]], f"{what}: TargetRegion {where.data.target_region!r}")
    check(where.data.gmt_create == where.data.gmt_modified >= data.gmt_create, f"{what}: provisioning times")

    listed = c.list_device_distribute_job(
        m.ListDeviceDistributeJobRequest(page_size=200, product_key=CFG["product_key"], target_uid=CFG["account"], status=2)
    ).body
    check(isinstance(listed.data, m.ListDeviceDistributeJobResponseBodyData), f"{what}: List model")
    items = {item.job_id: item for item in listed.data.job_info.items}
    check(job_id in items and listed.data.total == len(items), f"{what}: List has the job, Total {listed.data.total}")
    item = items[job_id]
    check(item.status == 2 and item.total == len(devices) and item.strategy == strategy, f"{what}: List item ints")
    check(item.source_region == CFG["regions"][source] and item.source_uid == CFG["account"], f"{what}: List item source")
    configs = item.target_instance_configs.target_instance_configs
    check([t.target_instance_id for t in configs] == targets and all(t.target_region for t in configs), f"{what}: List targets")
    return job_id


def pages(c):
    """Every job, one per page by NextToken, then by CurrentPage."""
    by_token, token = [], None
    while True:
        time.sleep(0.25)  # ListDeviceDistributeJob allows 5 calls a second.
        data = c.list_device_distribute_job(m.ListDeviceDistributeJobRequest(page_size=1, next_token=token)).body.data
        by_token += [item.job_id for item in data.job_info.items]
        token = data.next_token
        if not token:
            break
    time.sleep(0.25)
    second = c.list_device_distribute_job(m.ListDeviceDistributeJobRequest(page_size=1, current_page=2)).body.data
    check(second.job_info.items[0].job_id == by_token[1], "CurrentPage 2 is the second job")
    return by_token


def reads(c, moved):
    """The read APIs after the distributions; `moved` maps each device to (source, target) of its last one."""
    pk, devices = CFG["product_key"], CFG["devices"]

    # ListDistributedDevice: each device as its last distribution left it, as QueryDeviceProvisioning says.
    time.sleep(0.25)
    body = c.list_distributed_device(m.ListDistributedDeviceRequest(product_key=pk, page_size=200, current_page=1)).body
    check(body.success is True and isinstance(body.data, m.ListDistributedDeviceResponseBodyData), f"ListDistributedDevice: {body.to_map()}")
    check(isinstance(body.data.info, m.ListDistributedDeviceResponseBodyDataInfo), "ListDistributedDevice Info model")
    items = {item.device_name: item for item in body.data.info.items}
    check(body.data.total == len(items) and len(items) >= len(devices), f"ListDistributedDevice Total {body.data.total} items {len(items)}")
    for name in devices:
        check(name in items, f"ListDistributedDevice lists {name}")
        item = items[name]
        where = c.query_device_provisioning(m.QueryDeviceProvisioningRequest(product_key=pk, device_name=name)).body.data
        check((item.source_instance_id, item.target_instance_id) == moved[name], f"{name}: listed {item.source_instance_id} -> {item.target_instance_id}, expected {moved[name]}")
        check((item.source_instance_id, item.target_instance_id) == (where.source_iot_instance_id, where.target_iot_instance_id), f"{name}: ListDistributedDevice agrees with QueryDeviceProvisioning")
        check(isinstance(item.gmt_create, int) and item.gmt_create == where.gmt_create and isinstance(item.gmt_modified, int), f"{name}: times {item.gmt_create} {where.gmt_create}")
        check(item.source_uid == CFG["account"] and item.target_uid == CFG["account"] and isinstance(item.target_aliyun_id, str), f"{name}: uids")
        check(item.source_region == CFG["regions"][item.source_instance_id] and item.target_region == CFG["regions"][item.target_instance_id], f"{name}: regions")
        check(item.product_key == pk and isinstance(item.source_instance_name, str) and isinstance(item.target_instance_name, str), f"{name}: names")
    returned = devices[1]
    check(moved[returned][1] == CFG["source"], "devices[1] was returned home")
    time.sleep(0.25)
    only = c.list_distributed_device(m.ListDistributedDeviceRequest(product_key=pk, device_name=returned, source_instance_id=moved[returned][0])).body.data
    check([item.device_name for item in only.info.items] == [returned] and only.total == 1, f"filters by name and source: {only.to_map()}")
    time.sleep(0.25)
    second = c.list_distributed_device(m.ListDistributedDeviceRequest(product_key=pk, page_size=1, current_page=2)).body.data
    check([item.device_name for item in second.info.items] == [list(items)[1]], "CurrentPage 2 of 1 is the second item")
    time.sleep(0.25)
    bad = c.list_distributed_device(m.ListDistributedDeviceRequest(page_size=201)).body
    check(bad.success is False and bad.code == "iot.common.InvalidPageParams", f"ListDistributedDevice PageSize 201: {bad.to_map()}")

    # ListDistributedProduct: one item per (product, source, target).
    time.sleep(0.25)
    body = c.list_distributed_product(m.ListDistributedProductRequest(product_key=pk, page_size=200, current_page=1)).body
    check(body.success is True and isinstance(body.data.info, m.ListDistributedProductResponseBodyDataInfo), f"ListDistributedProduct: {body.to_map()}")
    pairs = {(item.source_instance_id, item.target_instance_id) for item in body.data.info.items}
    check(set(moved.values()) <= pairs and body.data.total == len(body.data.info.items), f"ListDistributedProduct pairs {pairs}")
    check(all(isinstance(item.gmt_create, int) and item.product_key == pk and item.target_region for item in body.data.info.items), "ListDistributedProduct items")
    time.sleep(0.25)
    to_home = c.list_distributed_product(m.ListDistributedProductRequest(product_key=pk, target_instance_id=CFG["source"])).body.data
    check(to_home.total >= 1 and all(item.target_instance_id == CFG["source"] for item in to_home.info.items), "ListDistributedProduct TargetInstanceId filter")

    # QueryDevice: newest first; NextToken and CurrentPage pages agree; the paging fields are at the top level.
    by_token, token, pages = [], None, 0
    while True:
        body = c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=50, next_token=token)).body
        check(body.success is True and isinstance(body.data, m.QueryDeviceResponseBodyData), f"QueryDevice: {body.to_map()}")
        check(isinstance(body.total, int) and isinstance(body.page_size, int) and body.page_size == 50, f"QueryDevice paging {body.total} {body.page_size}")
        check(isinstance(body.page_count, int) and isinstance(body.page, int), "QueryDevice Page/PageCount ints")
        by_token += [d.device_name for d in body.data.device_info]
        pages += 1
        token = body.next_token
        if not token:
            break
    total = body.total
    check(len(by_token) == total == len(set(by_token)), f"QueryDevice by NextToken: {len(by_token)} of {total}, once each")
    check(set(devices) <= set(by_token), "QueryDevice lists the demo devices")
    check(pages == -(-total // 50), f"{pages} pages of 50 for {total}")
    page2 = c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=2, current_page=2)).body
    check([d.device_name for d in page2.data.device_info] == by_token[2:4] and page2.page == 2, "QueryDevice CurrentPage 2 of 2")
    one = c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=50)).body.data.device_info
    info = {d.device_name: d for d in one}
    for d in one:
        check(d.product_key == pk and isinstance(d.device_secret, str) and isinstance(d.iot_id, str) and d.iot_id, f"QueryDevice {d.device_name}")
        check(isinstance(d.gmt_create, str) and isinstance(d.utc_create, str) and d.device_status == "UNACTIVE", f"QueryDevice {d.device_name} text times")
        check(d.device_secret == CFG["secrets"][d.device_name] if d.device_name in CFG["secrets"] else True, f"QueryDevice {d.device_name} secret")
    check([d.utc_create for d in one] == sorted((d.utc_create for d in one), reverse=True), "QueryDevice is newest first")
    past = c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=50, current_page=201)).body
    check(past.success is False and past.code == "iot.common.InvalidPageParams", f"past 10,000 rows without NextToken: {past.to_map()}")
    time.sleep(1.0)
    deep_throttled = 0
    for _ in range(6):  # within at most two one-second windows: at least two over 2 a second
        try:
            c.query_device(m.QueryDeviceRequest(product_key=pk, page_size=50, current_page=2000, next_token="emu-dev-1"))
        except exceptions.ClientException as err:
            check(err.code == "Throttling.User", f"deep page: {err.code}")
            deep_throttled += 1
    check(deep_throttled >= 1, "6 deep QueryDevice pages at once: the 2 QPS tier throttles some")

    # QueryProductList: the product is in its home instance.
    body = c.query_product_list(m.QueryProductListRequest(iot_instance_id=CFG["source"], page_size=200, current_page=1)).body
    check(body.success is True and isinstance(body.data.list, m.QueryProductListResponseBodyDataList), f"QueryProductList: {body.to_map()}")
    products = {p.product_key: p for p in body.data.list.product_info}
    check(pk in products and body.data.total == len(products) and body.data.current_page == 1, f"QueryProductList lists {pk}")
    product = products[pk]
    check(isinstance(product.node_type, int) and isinstance(product.data_format, int) and product.auth_type == "secret", "QueryProductList ints and AuthType")
    check(isinstance(product.device_count, int) and product.device_count >= 1 and isinstance(product.gmt_create, int), "QueryProductList counts")

    # BatchQueryDeviceDetail: unknown names are left out.
    time.sleep(0.25)
    body = c.batch_query_device_detail(m.BatchQueryDeviceDetailRequest(product_key=pk, device_name=devices + ["no-such-device"])).body
    check(body.success is True and isinstance(body.data, m.BatchQueryDeviceDetailResponseBodyData), f"BatchQueryDeviceDetail: {body.to_map()}")
    found = [d.device_name for d in body.data.data]
    check(found == devices, f"BatchQueryDeviceDetail names {found}")
    for d in body.data.data:
        where = moved[d.device_name][1]
        check(d.region == CFG["regions"][where] and isinstance(d.node_type, int) and d.product_key == pk, f"detail {d.device_name}: Region {d.region}")
        check(d.device_secret == CFG["secrets"].get(d.device_name, d.device_secret) and d.iot_id == info.get(d.device_name, d).iot_id, f"detail {d.device_name}: secret and IotId")

    # GetThingTopo: lower-case deviceInfo.
    gw = CFG["gateway"]
    body = c.get_thing_topo(m.GetThingTopoRequest(product_key=gw["product_key"], device_name=gw["device_name"], page_no=1, page_size=50)).body
    check(body.success is True and isinstance(body.data.list, m.GetThingTopoResponseBodyDataList), f"GetThingTopo: {body.to_map()}")
    subs = [[d.product_key, d.device_name] for d in body.data.list.device_info]
    check(subs == gw["subs"] and body.data.total == len(subs) and body.data.page_size == 50, f"GetThingTopo subs {subs}")
    check(all(isinstance(d.iot_id, str) and d.iot_id for d in body.data.list.device_info), "GetThingTopo IotIds")
    nowhere = c.get_thing_topo(m.GetThingTopoRequest(product_key=gw["product_key"], device_name="no-such-gateway")).body
    check(nowhere.success is False and nowhere.code == "iot.device.NotExistedDevice", f"GetThingTopo unknown: {nowhere.to_map()}")


def utc(offset_minutes):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=offset_minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    devices, home, target, nearest = CFG["devices"], CFG["source"], CFG["target"], CFG["nearest"]
    v3, v2 = client("v3"), client("v2")
    exercise("v3", v3, devices[0:2], home, [target], 0)
    exercise("v2", v2, devices[2:4], home, nearest, 1)
    # STS: the token travels as x-acs-security-token (V3) or SecurityToken (V2), both signed.
    # A job leaves from where its devices are now: a second hop, and a return home.
    exercise("v3+sts", client("v3", token=CFG["token"]), devices[0:1], target, [nearest[0]], 0)
    exercise("v2+sts", client("v2", token=CFG["token"]), devices[1:2], target, [home], 0)
    # Nearest access may list the source among its candidates.
    exercise("v3", v3, devices[2:3], nearest[0], [nearest[1], nearest[0]], 1)

    listed = pages(v3)
    moved = {devices[0]: (target, nearest[0]), devices[1]: (target, home), devices[2]: (nearest[0], nearest[1]), devices[3]: (home, nearest[0])}
    reads(v2, moved)
    reads(v3, moved)
    check(listed == list(reversed(CREATED)), f"NextToken pages list every job once, newest first: {listed}")

    # Delete removes the record; asking for it again is a business error on HTTP 200.
    deleted = v2.delete_device_distribute_job(m.DeleteDeviceDistributeJobRequest(job_id=CREATED[0])).body
    check(isinstance(deleted, m.DeleteDeviceDistributeJobResponseBody) and deleted.success is True, "Delete")
    gone = v3.query_device_distribute_job(m.QueryDeviceDistributeJobRequest(job_id=CREATED[0])).body
    check(gone.success is False and gone.code == "iot.system.IllegalRequest" and gone.error_message, f"deleted job: {gone.to_map()}")
    check(gone.data is None, "no Data on a business error")

    # Business errors: HTTP 200, Success false, Code and ErrorMessage, no exception.
    pace_create()
    # devices[1] is home again; devices[0] went on to nearest[0].
    unknown = v3.create_device_distribute_job(m.CreateDeviceDistributeJobRequest(
        device_name=[devices[1], "no-such-device"], product_key=CFG["product_key"], source_instance_id=home,
        strategy=0, target_uid=CFG["account"],
        target_instance_config=[m.CreateDeviceDistributeJobRequestTargetInstanceConfig(target_instance_id=target)],
    )).body
    check(unknown.success is False and unknown.code == "iot.device.NotExistedDevice", f"unknown device: {unknown.to_map()}")
    check("no-such-device" in unknown.error_message, f"the unknown device is named: {unknown.error_message}")
    check(unknown.job_id is None, "no JobId on a refused Create")
    pace_create()
    elsewhere = v2.create_device_distribute_job(m.CreateDeviceDistributeJobRequest(
        device_name=devices[0:1], product_key=CFG["product_key"], source_instance_id=home,
        strategy=0, target_uid=CFG["account"],
        target_instance_config=[m.CreateDeviceDistributeJobRequestTargetInstanceConfig(target_instance_id=target)],
    )).body
    check(elsewhere.success is False and elsewhere.code == "iot.device.NotExistedDevice", f"a device not at home leaves from there: {elsewhere.to_map()}")
    check(home in elsewhere.error_message, f"the source is named: {elsewhere.error_message}")
    pace_create()
    same = v2.create_device_distribute_job(m.CreateDeviceDistributeJobRequest(
        device_name=devices[1:2], product_key=CFG["product_key"], source_instance_id=home,
        strategy=0, target_uid=CFG["account"],
        target_instance_config=[m.CreateDeviceDistributeJobRequestTargetInstanceConfig(target_instance_id=home)],
    )).body
    check(same.success is False and same.code == "iot.system.InstanceIdSame", f"same instance: {same.to_map()}")
    nowhere = v3.query_device_provisioning(m.QueryDeviceProvisioningRequest(product_key=CFG["product_key"], device_name="no-such-device")).body
    check(nowhere.success is False and nowhere.code == "iot.device.NotExistedDevice", f"provisioning: {nowhere.to_map()}")
    bad_page = v3.list_device_distribute_job(m.ListDeviceDistributeJobRequest(page_size=201)).body
    check(bad_page.success is False and bad_page.code == "iot.common.InvalidPageParams", f"PageSize 201: {bad_page.to_map()}")

    query = m.QueryDeviceDistributeJobRequest(job_id=CREATED[1])
    for scheme in ("v3", "v2"):
        err = refused(lambda: client(scheme, secret="not-the-secret").query_device_distribute_job(query),
                      "SignatureDoesNotMatch", 400, f"{scheme} wrong secret")
        echoed = "server string to sign is:" + ("ACS3-HMAC-SHA256\n" if scheme == "v3" else "POST&%2F&")
        check(echoed in err.message, f"{scheme}: the string-to-sign is echoed: {err.message}")
        refused(lambda: client(scheme, ak="no-such-key").query_device_distribute_job(query),
                "InvalidAccessKeyId.NotFound", 404, f"{scheme} unknown key")
        refused(lambda: client(scheme, token="not-the-token").query_device_distribute_job(query),
                "InvalidSecurityToken.MismatchWithAccessKey", 400, f"{scheme} wrong STS token")

    real_timestamp, real_nonce = Utils.get_timestamp, Utils.get_nonce
    try:
        for scheme in ("v3", "v2"):
            Utils.get_timestamp = staticmethod(lambda: utc(-20))
            refused(lambda: client(scheme).query_device_distribute_job(query), "InvalidTimeStamp.Expired", 400, f"{scheme} clock 20 min slow")
            Utils.get_timestamp = staticmethod(lambda: utc(+20))
            refused(lambda: client(scheme).query_device_distribute_job(query), "InvalidTimeStamp.Expired", 400, f"{scheme} clock 20 min fast")
            Utils.get_timestamp = real_timestamp
            nonce = f"conformance-nonce-{scheme}"
            Utils.get_nonce = staticmethod(lambda: nonce)
            first = client(scheme).query_device_distribute_job(query).body
            check(first.success is True, f"{scheme}: first use of a nonce")
            refused(lambda: client(scheme).query_device_distribute_job(query), "SignatureNonceUsed", 400, f"{scheme} reused nonce")
            Utils.get_nonce = real_nonce
    finally:
        Utils.get_timestamp, Utils.get_nonce = real_timestamp, real_nonce

    # More than 10 QueryDeviceDistributeJob calls within a second: Throttling.User, HTTP 400.
    time.sleep(1.0)
    throttled = 0
    for _ in range(15):
        try:
            v3.query_device_distribute_job(query)
        except exceptions.ClientException as err:
            check(err.code == "Throttling.User" and err.status_code == 400, f"throttling: {err.code} {err.status_code}")
            throttled += 1
    check(throttled >= 1, "15 queries at once: some throttled")

    print(json.dumps({"created": CREATED, "throttled": throttled}))
    print(f"conformance: {CHECKS} checks passed")


main()
