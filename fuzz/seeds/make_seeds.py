#!/usr/bin/env python3
"""Writes the seed corpus of the `credential` fuzz target into seeds/credential/.

Byte 0 of every input is the target's mode byte (see fuzz_targets/credential.rs):
0x01 = raw header value, 0x03 = raw value prefixed with "Bearer ", 0x00/0x02/... = splice
into the valid token issued at start-up. The only secret is the fixed test secret of
the target. Run from anywhere: python3 fuzz/seeds/make_seeds.py
"""
import base64, hashlib, hmac, json, os, time

SECRET = b"0123456789abcdef0123456789abcdef"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "credential")
AZ_TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RAW, BEARER = b"\x01", b"\x03"


def b64(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header, claims, secret=SECRET):
    msg = f"{b64(header)}.{b64(claims)}"
    sig = hmac.new(secret, msg.encode(), hashlib.sha256).digest()
    return f"{msg}.{b64(sig)}"


# Far-future expiry so the seeds stay meaningful; the ids match no user in the target's
# store (it makes its own at start-up), so this one reaches resolution and gets 403.
EXP = 4102444800  # 2100-01-01
local_claims = {
    "iss": "erp-toolkit", "aud": "erp-api",
    "sub": "0190a0a0-0000-7000-8000-000000000001",
    "tenant": "0190a0a0-0000-7000-8000-000000000002",
    "jti": "fuzz-session-0000000001", "iat": 1700000000, "nbf": 1700000000,
    "exp": EXP, "roles": ["admin"],
}
valid = hs256({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, local_claims)
alg_none = f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': 'k1'})}.{b64(local_claims)}."
azure = (f"{b64({'alg': 'RS256', 'typ': 'JWT', 'kid': 'unknown-kid'})}."
         f"{b64({'iss': f'https://sts.windows.net/{AZ_TID}/', 'tid': AZ_TID, 'aud': 'client-id', 'oid': 'x', 'scp': 'user', 'exp': EXP})}."
         f"{b64(b'not-a-real-signature')}")
huge = hs256({"alg": "HS256", "typ": "at+jwt", "kid": "k1"},
             dict(local_claims, pad="A" * 15000))

seeds = {
    "valid_local_token": BEARER + valid.encode(),
    "valid_local_token_raw_header": RAW + b"Bearer " + valid.encode(),
    "alg_none": BEARER + alg_none.encode(),
    "rs256_azure_issuer_unknown_kid": BEARER + azure.encode(),
    "truncated_token": BEARER + valid[: len(valid) * 2 // 3].encode(),
    "empty": b"",
    "bearer_prefix_only": RAW + b"Bearer ",
    "lowercase_bearer_spaces": RAW + b"bearer   " + valid.encode() + b"  ",
    "basic_scheme": RAW + b"Basic dXNlcjpwYXNz",
    "huge_payload": BEARER + huge.encode(),
    "garbage_with_dots": RAW + b"Bearer ..\x00.\xff\xfe..a.b.c.d",
    # Splice mode: selector 1*3+1 = base64url-replace the payload with a JSON object.
    "splice_payload_json": b"\x00\x04\x00" + json.dumps(dict(local_claims, exp="soon")).encode(),
    # Splice mode: selector 2 = raw-replace the signature.
    "splice_signature_raw": b"\x00\x02\x00" + b"AAAA",
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {OUT}")
