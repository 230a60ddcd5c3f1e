//! The verifier against the SDK-computed vectors of docs/wire.md §3.3, and each refusal.

use super::*;
use devdist_platform::Secret;

/// 2024-01-01T12:00:00Z, the time of every vector.
const VECTOR_MS: u64 = 1_704_110_400_000;
const NONCE: &str = "3156853299f313e23d1673dc12e1703d";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const VECTOR_A_BODY: &str = "DeviceName.1=dev_001&DeviceName.2=dev+002&DeviceName.3=dev%40003&ProductKey=a1BwAGVxxxx&SourceInstanceId=iotx-oxssharez200&Strategy=1&TargetInstanceConfig.1.TargetInstanceId=iotx-oxssharez300&TargetInstanceConfig.2.TargetInstanceId=iotx-oxssharez400&TargetUid=1234567890";
const VECTOR_B_STRING_TO_SIGN: &str =
    "ACS3-HMAC-SHA256\n1217af44dae40ce759c77749dbef993f4928a30b72e736659ec5049b10f922e5";
const VECTOR_C_STRING_TO_SIGN: &str = "POST&%2F&AccessKeyId%3Dtestid%26Action%3DQueryDeviceDistributeJob%26Format%3Djson%26JobId%3DUbmsMHmkqv0PiAG%252A%252A%252A%252A010001%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3156853299f313e23d1673dc12e1703d%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T12%253A00%253A00Z%26Version%3D2018-01-20";
const V2_COMMON_QUERY: &str = "Format=json&Version=2018-01-20&Timestamp=2024-01-01T12%3A00%3A00Z&SignatureNonce=3156853299f313e23d1673dc12e1703d&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid";

fn at(offset_ms: i64) -> Now {
    Now { mono: 1_000, wall: (VECTOR_MS as i64 + offset_ms) as u64 }
}

fn gateway(token: Option<&str>) -> Gateway {
    Gateway::new(credentials("testid", "testsecret", token))
}

fn credentials(access_key_id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials { access_key_id: access_key_id.into(), secret: Secret::new(secret), token: token.map(Secret::new) }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

/// Vector B's request: QueryDeviceDistributeJob, JobId in the query, no body.
fn vector_b(extra: &[(&str, &str)], signed: &str, signature: &str) -> Vec<(String, String)> {
    let authorization = format!("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={signed},Signature={signature}");
    let mut all = vec![
        ("host", "iot.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "QueryDeviceDistributeJob"),
        ("x-acs-content-sha256", EMPTY_SHA256),
        ("x-acs-date", "2024-01-01T12:00:00Z"),
        ("x-acs-signature-nonce", NONCE),
        ("x-acs-version", "2018-01-20"),
    ];
    all.extend_from_slice(extra);
    let mut list = headers(&all);
    list.push(("authorization".into(), authorization));
    list
}

const B_SIGNED: &str = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";
const B_QUERY: &str = "JobId=UbmsMHmkqv0PiAG%2A%2A%2A%2A010001";

fn call<'a>(query: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> Call<'a> {
    Call { method: "POST", query, headers, body }
}

fn code(result: Result<Authenticated, Failure>) -> String {
    match result {
        Ok(_) => "accepted".to_string(),
        Err(failure) => failure.code().to_string(),
    }
}

#[test]
fn vector_b_v3_query_verifies_and_yields_the_decoded_job_id() {
    let list = vector_b(&[], B_SIGNED, "bbf7166951136a27395464f0991bfff6c965f5a73bfc2aa6d105c5787b376bb5");
    let authenticated = gateway(None).authenticate(&call(B_QUERY, &list, b""), at(0)).unwrap();
    assert_eq!(authenticated.action, "QueryDeviceDistributeJob");
    assert_eq!(authenticated.scheme, Scheme::V3);
    assert!(!authenticated.sts);
    assert_eq!(
        authenticated.params.into_iter().collect::<Vec<_>>(),
        [("JobId".to_string(), "UbmsMHmkqv0PiAG****010001".to_string())]
    );
}

#[test]
fn vector_b_with_an_sts_token_verifies_only_when_the_token_is_the_accepted_one() {
    let signed = format!("{B_SIGNED};x-acs-security-token");
    let list = vector_b(
        &[("x-acs-security-token", "testtoken")],
        &signed,
        "7caf59993bc58e232fbe5370c96bb65c71e0f18e5b4b51374e1f26a87bb0ab1b",
    );
    let authenticated = gateway(Some("testtoken")).authenticate(&call(B_QUERY, &list, b""), at(0)).unwrap();
    assert!(authenticated.sts);
    assert_eq!(
        code(gateway(Some("othertoken")).authenticate(&call(B_QUERY, &list, b""), at(0))),
        "InvalidSecurityToken.MismatchWithAccessKey"
    );
    assert_eq!(
        code(gateway(None).authenticate(&call(B_QUERY, &list, b""), at(0))),
        "InvalidSecurityToken.MismatchWithAccessKey"
    );
}

#[test]
fn vector_a_v3_create_verifies_its_body_hash_and_decodes_the_form() {
    let list = headers(&[
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", "iot.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "CreateDeviceDistributeJob"),
        ("x-acs-content-sha256", "4d04174f8e74091e68b521bb1692b6d16bd4522a2442c0e0b7a0bebc17bff139"),
        ("x-acs-date", "2024-01-01T12:00:00Z"),
        ("x-acs-signature-nonce", NONCE),
        ("x-acs-version", "2018-01-20"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=1e925011703d85407bbab9d8dac8aa5cd47ef3141c49e70d3bbf1ed88afc3fd6",
        ),
    ]);
    let authenticated = gateway(None).authenticate(&call("", &list, VECTOR_A_BODY.as_bytes()), at(0)).unwrap();
    assert_eq!(authenticated.params["DeviceName.2"], "dev 002");
    assert_eq!(authenticated.params["DeviceName.3"], "dev@003");
    assert_eq!(authenticated.params["TargetInstanceConfig.2.TargetInstanceId"], "iotx-oxssharez400");
    assert_eq!(authenticated.params.len(), 9);
    // The same headers over other bytes: the body hash no longer matches.
    let tampered = VECTOR_A_BODY.replace("dev_001", "dev_666");
    assert_eq!(code(gateway(None).authenticate(&call("", &list, tampered.as_bytes()), at(0))), "ContentSHA256NotMatch");
}

#[test]
fn vector_e_the_sdk_full_header_set_verifies_over_whatever_signed_headers_lists() {
    let list = headers(&[
        ("accept", "application/json"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", "iot.cn-shanghai.aliyuncs.com"),
        ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
        ("x-acs-action", "CreateDeviceDistributeJob"),
        ("x-acs-content-sha256", "4d04174f8e74091e68b521bb1692b6d16bd4522a2442c0e0b7a0bebc17bff139"),
        ("x-acs-credentials-provider", "static_ak"),
        ("x-acs-date", "2024-01-01T12:00:00Z"),
        ("x-acs-signature-nonce", NONCE),
        ("x-acs-version", "2018-01-20"),
        ("accept-encoding", "identity"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=17af72e096914ea16b9a1e12af87d913e072de23fbb402e65e001dc899eca190",
        ),
    ]);
    assert_eq!(code(gateway(None).authenticate(&call("", &list, VECTOR_A_BODY.as_bytes()), at(0))), "accepted");
}

#[test]
fn a_wrong_secret_is_refused_with_the_servers_string_to_sign() {
    let list = vector_b(&[], B_SIGNED, "bbf7166951136a27395464f0991bfff6c965f5a73bfc2aa6d105c5787b376bb5");
    let mut other = Gateway::new(credentials("testid", "other", None));
    let failure = other.authenticate(&call(B_QUERY, &list, b""), at(0)).unwrap_err();
    assert_eq!(
        failure,
        Failure::gateway(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{VECTOR_B_STRING_TO_SIGN}"
            )
        )
    );
    // A signature over other parameters fails the same way.
    let moved = "JobId=another";
    assert_eq!(code(gateway(None).authenticate(&call(moved, &list, b""), at(0))), "SignatureDoesNotMatch");
}

#[test]
fn vector_c_v2_query_verifies_and_a_wrong_secret_echoes_its_string_to_sign() {
    let query = format!(
        "Action=QueryDeviceDistributeJob&{V2_COMMON_QUERY}&JobId=UbmsMHmkqv0PiAG%2A%2A%2A%2A010001&Signature=vrpi08TwS2a3u3%2FNJlNDFp2vs30%3D"
    );
    let list = headers(&[("host", "iot.cn-shanghai.aliyuncs.com"), ("x-acs-action", "QueryDeviceDistributeJob")]);
    let authenticated = gateway(None).authenticate(&call(&query, &list, b""), at(0)).unwrap();
    assert_eq!(authenticated.scheme, Scheme::V2);
    assert_eq!(authenticated.action, "QueryDeviceDistributeJob");
    assert_eq!(authenticated.params.keys().collect::<Vec<_>>(), ["JobId"], "common parameters are not the action's");
    let mut other = Gateway::new(credentials("testid", "other", None));
    let failure = other.authenticate(&call(&query, &list, b""), at(0)).unwrap_err();
    let Failure::Gateway { status: 400, code, message } = failure else { panic!("{failure:?}") };
    assert_eq!(code, "SignatureDoesNotMatch");
    assert!(message.ends_with(&format!("server string to sign is:{VECTOR_C_STRING_TO_SIGN}")), "{message}");
}

#[test]
fn vector_c_with_an_sts_token_verifies_and_the_token_never_appears_in_an_error() {
    let query = format!(
        "Action=QueryDeviceDistributeJob&{V2_COMMON_QUERY}&SecurityToken=testtoken&JobId=UbmsMHmkqv0PiAG%2A%2A%2A%2A010001&Signature=mPjRoIzYFLHwLYVa3tAyq2UNFw4%3D"
    );
    let authenticated = gateway(Some("testtoken")).authenticate(&call(&query, &[], b""), at(0)).unwrap();
    assert!(authenticated.sts);
    assert!(!authenticated.params.contains_key("SecurityToken"));
    let mut other = Gateway::new(credentials("testid", "other", Some("testtoken")));
    let failure = other.authenticate(&call(&query, &[], b""), at(0)).unwrap_err();
    let Failure::Gateway { message, .. } = failure else { panic!("{failure:?}") };
    assert!(message.contains("SecurityToken%3D<redacted>"), "{message}");
    assert!(!message.contains("testtoken"), "{message}");
}

#[test]
fn vector_d_v2_create_signs_the_form_body_too() {
    let query =
        format!("Action=CreateDeviceDistributeJob&{V2_COMMON_QUERY}&Signature=mrlFBHEaNCnrYV%2Bn1yG0tMfusPw%3D");
    let authenticated = gateway(None).authenticate(&call(&query, &[], VECTOR_A_BODY.as_bytes()), at(0)).unwrap();
    assert_eq!(authenticated.params["DeviceName.2"], "dev 002");
    let tampered = VECTOR_A_BODY.replace("Strategy=1", "Strategy=0");
    assert_eq!(
        code(gateway(None).authenticate(&call(&query, &[], tampered.as_bytes()), at(0))),
        "SignatureDoesNotMatch"
    );
}

#[test]
fn a_reused_nonce_a_skewed_clock_and_an_unknown_key_are_refused() {
    let list = vector_b(&[], B_SIGNED, "bbf7166951136a27395464f0991bfff6c965f5a73bfc2aa6d105c5787b376bb5");
    let mut gateway = gateway(None);
    assert_eq!(code(gateway.authenticate(&call(B_QUERY, &list, b""), at(0))), "accepted");
    assert_eq!(code(gateway.authenticate(&call(B_QUERY, &list, b""), at(1000))), "SignatureNonceUsed");
    let minutes = |m: i64| m * 60 * 1000;
    assert_eq!(
        code(self::gateway(None).authenticate(&call(B_QUERY, &list, b""), at(minutes(16)))),
        "InvalidTimeStamp.Expired"
    );
    assert_eq!(
        code(self::gateway(None).authenticate(&call(B_QUERY, &list, b""), at(-minutes(16)))),
        "InvalidTimeStamp.Expired"
    );
    assert_eq!(code(self::gateway(None).authenticate(&call(B_QUERY, &list, b""), at(minutes(14)))), "accepted");
    let stranger = Gateway::new(credentials("otherid", "testsecret", None))
        .authenticate(&call(B_QUERY, &list, b""), at(0))
        .unwrap_err();
    assert_eq!(stranger, Failure::gateway(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."));
}

#[test]
fn a_signature_that_leaves_out_the_nonce_or_no_signature_at_all_is_refused() {
    let signed = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-version";
    let list = vector_b(&[], signed, "00");
    assert_eq!(code(gateway(None).authenticate(&call(B_QUERY, &list, b""), at(0))), "IncompleteSignature");
    assert_eq!(code(gateway(None).authenticate(&call(B_QUERY, &[], b""), at(0))), "MissingAuthorization");
    let garbled = headers(&[("authorization", "Bearer abc")]);
    assert_eq!(code(gateway(None).authenticate(&call(B_QUERY, &garbled, b""), at(0))), "IncompleteSignature");
    assert_eq!(code(gateway(None).authenticate(&call("JobId=%zz", &list, b""), at(0))), "InvalidParameter");
}

#[test]
fn parses_the_sdk_timestamp_format_only() {
    assert_eq!(parse_utc("2024-01-01T12:00:00Z"), Some(1_704_110_400));
    assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_utc("2000-02-29T23:59:59Z"), Some(951_868_799));
    for bad in [
        "2024-01-01 12:00:00Z",
        "2024-13-01T12:00:00Z",
        "2024-01-01T12:00:00",
        "2024-01-01T12:00:0xZ",
        "+024-01-01T12:00:00Z",
    ] {
        assert_eq!(parse_utc(bad), None, "{bad}");
    }
}
