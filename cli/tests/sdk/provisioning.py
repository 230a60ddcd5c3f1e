"""Asks a running `devdist emulate` where devices are, through the official Python SDK
(alibabacloud-iot20180120 5.1.0): QueryDeviceProvisioning for each device, read through the
SDK's own models.

Usage: provisioning.py JSON, where JSON is {"endpoint": "127.0.0.1:PORT", "ak", "secret",
"devices": [[product_key, device_name], ...]}. Prints one JSON line: a list with, for each
device in order, {"ProductKey", "DeviceName", "AliyunUid", "SourceIotInstanceId", "SourceRegion",
"TargetIotInstanceId", "TargetRegion"}. A failed call raises (non-zero exit).
"""

import json
import sys
import time

from alibabacloud_iot20180120 import models as m
from alibabacloud_iot20180120.client import Client
from alibabacloud_tea_openapi import models as open_api_models

CFG = json.loads(sys.argv[1])


def main():
    client = Client(
        open_api_models.Config(
            access_key_id=CFG["ak"],
            access_key_secret=CFG["secret"],
            endpoint=CFG["endpoint"],
            protocol="http",
        )
    )
    seen = []
    for product_key, device_name in CFG["devices"]:
        body = client.query_device_provisioning(
            m.QueryDeviceProvisioningRequest(product_key=product_key, device_name=device_name)
        ).body
        if not body.success or not isinstance(body.data, m.QueryDeviceProvisioningResponseBodyData):
            raise AssertionError(f"{product_key}/{device_name}: {body.code} {body.error_message}")
        data = body.data
        seen.append(
            {
                "ProductKey": data.product_key,
                "DeviceName": data.device_name,
                "AliyunUid": data.aliyun_uid,
                "SourceIotInstanceId": data.source_iot_instance_id,
                "SourceRegion": data.source_region,
                "TargetIotInstanceId": data.target_iot_instance_id,
                "TargetRegion": data.target_region,
            }
        )
        # QueryDeviceProvisioning allows 50 calls a second per account.
        time.sleep(0.03)
    print(json.dumps(seen))


main()
