"""Generates openapi.json (the control plane's API description):

    python3 control-plane/openapi.py > control-plane/openapi.json

tests/control_plane_api.rs validates real answers against the schemas it produces.
"""
import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def obj(props, required=None, extra=False):
    o={"type":"object","properties":props,"additionalProperties":extra}
    o["required"]=required if required is not None else list(props)
    return o
S={"type":"string"}; I={"type":"integer"}; B={"type":"boolean"}; N={"type":"number"}
def nullable(t): return {"anyOf":[t,{"type":"null"}]}
schemas={}
schemas.update({
 "Error": obj({"error":obj({"code":S,"message":S})}),
 "Role": {"type":"string","enum":["origin","edge","chat_relay"]},
 "NodeState": {"type":"string","enum":["alive","suspect","dead"]},
 "Capacity": obj({"max_connections":I,"max_egress_bps":I}),
 "Load": obj({"connections":I,"egress_bps":I,"cpu":N}),
 "HeldStream": obj({"name":S,"viewers":I},["name"]),
 "HeldRoom": obj({"name":S,"connections":I,"messages":I,"likes":I,"gift_value":I},["name"]),
 "NodeReport": obj({"id":S,"role":ref("Role"),"region":S,"tier":I,"http_url":nullable(S),"rtmp_url":nullable(S),
    "relay_addr":nullable(S),"ws_url":nullable(S),"capacity":ref("Capacity"),"load":ref("Load"),
    "streams":{"type":"array","items":ref("HeldStream")},"rooms":{"type":"array","items":ref("HeldRoom")},"draining":B},
    ["id","role","region"]),

 "HeartbeatAnswer": obj({"outcome":{"type":"string","enum":["registered","updated","revived"]},"heartbeat_interval_ms":I}),
 "Target": obj({"id":S,"region":S,"url":S,"liveness":ref("NodeState"),"distance":I,"load_ratio":N}),
 "PlayAnswer": obj({"stream":S,"region":S,"url":S,"chosen":ref("Target"),"alternatives":{"type":"array","items":ref("Target")}}),
 "IngestAnswer": obj({"stream":S,"rtmp_url":S,"origin":ref("Target")}),
 "ChatAnswer": obj({"room":S,"region":S,"ws_url":S,"relay":S,"token":S,"user_id":S,"name":S,"role":{"type":"string","enum":["viewer","host","moderator"]},"expires_at":I}),
 "DirectoryAnswer": obj({"stream":S,"node_id":S,"relay_addr":S}),
 "LiveStream": obj({"stream":S,"origin":S,"viewers":I}),
 "CreateStream": obj({"name":S}),
 "IssuedKey": obj({"id":S,"key":S}),
 "StreamView": obj({"name":S,"created_at_ms":I,"live":B,"key":ref("IssuedKey")},["name","created_at_ms","live"]),
 "KeyView": obj({"id":S,"created_at_ms":I,"revoked_at_ms":nullable(I)}),
 "ValidateKey": obj({"key":S}),
 "ValidatedKey": obj({"stream":S,"key_id":S}),
 "ChatRecord": obj({"room":S,"seq":I,"kind":S,"user_id":S,"display_name":S,"text":S,"client_msg_id":nullable(S),"at_ms":I,"deleted":B}),
 "GiftRecord": obj({"idempotency_key":S,"room":S,"sender_id":S,"host_id":S,"gift_id":S,"count":I,"value":I,"at_ms":I}),
 "ChatPage": obj({"items":{"type":"array","items":ref("ChatRecord")},"next_cursor":nullable(S)}),
 "GiftPage": obj({"items":{"type":"array","items":ref("GiftRecord")},"next_cursor":nullable(S)}),
 "RoomHome": obj({"room":S,"relay_id":S,"region":S,"ws_url":S}),
 "StatsPoint": obj({"region":S,"at_ms":I,"viewers":I,"chat_messages":I,"likes":I,"gift_value":I}),
})
entry=json.loads(json.dumps(schemas["NodeReport"]))
entry["properties"]["state"]=ref("NodeState"); entry["properties"]["last_beat_ms_ago"]=I
entry["required"]=list(entry["properties"])
schemas["NodeEntry"]=entry
def resp(desc, schema=None, ctype="application/json"):
    r={"description":desc}
    if schema: r["content"]={ctype:{"schema":schema}}
    return r
E=lambda d: resp(d, ref("Error"))
arr=lambda n: {"type":"array","items":ref(n)}
P=lambda name,d: {"name":name,"in":"path","required":True,"schema":{"type":"string"},"description":d}
Q=lambda name,d,t=S: {"name":name,"in":"query","required":False,"schema":t,"description":d}
admin=[{"admin":[]}]; nodeauth=[{"node":[]}]
paths={
 "/v1/play/{stream}":{"get":{"operationId":"play","summary":"Route a viewer to the best healthy edge",
   "description":"Same region first, then nearest (routing.distances), least loaded relative to capacity; never a draining or dead node. Region from ?region, else the region header, else the CIDR map, else the default region. 302 to the edge's multivariant playlist, or JSON with Accept: application/json.",
   "parameters":[P("stream","Stream name"),Q("region","Viewer region"),Q("avoid","Comma-separated ids (at most 8) of edges the player just failed on: left out, with the edges they feed")],
   "responses":{"200":resp("The choice and alternatives (Accept: application/json)",ref("PlayAnswer")),"302":{"description":"Location: the edge's /live/{stream}/index.m3u8"},"400":E("Bad stream, region or avoid"),"404":E("Stream not live"),"503":E("No healthy edge")}}},
 "/v1/ingest/{stream}":{"get":{"operationId":"ingest","summary":"The origin a host publishes to","parameters":[P("stream","Stream name"),Q("region","Host region")],
   "responses":{"200":resp("RTMP URL (append /{stream_key})",ref("IngestAnswer")),"400":E("Bad name"),"503":E("No origin")}}},
 "/v1/chat/{room}":{"get":{"operationId":"chat","summary":"A chat relay and a signed chat token",
   "description":"Admins may set user_id, name and role; with chat.guest_tokens anyone gets a viewer token for a guest identity. Connect to {ws_url}?room={room}&token={token}.",
   "security":[{},{"admin":[]}],
   "parameters":[P("room","Room (stream) name"),Q("region","Chatter region"),Q("user_id","User id (admins)"),Q("name","Display name"),Q("role","viewer, host or moderator (admins)")],
   "responses":{"200":resp("Relay and token",ref("ChatAnswer")),"400":E("Bad input"),"401":E("Guest tokens off and no admin token"),"403":E("Guests cannot choose user_id or role"),"503":E("No relay, or no token secret")}}},
 "/v1/live":{"get":{"operationId":"live","summary":"Streams live now, most viewed first","responses":{"200":resp("Live streams",arr("LiveStream"))}}},
 "/v1/directory/{stream}":{"get":{"operationId":"directory","summary":"Where an edge subscribes to a stream","security":nodeauth,
   "description":"A tier-1 edge gets the origin holding the stream; a deeper edge gets the best lower-tier edge (same region first), else the origin.",
   "parameters":[P("stream","Stream name"),{"name":"edge","in":"query","required":True,"schema":S,"description":"The asking edge's node id"}],
   "responses":{"200":resp("Upstream",ref("DirectoryAnswer")),"400":E("Bad input"),"401":E("No token"),"403":E("Bad token"),"404":E("Stream not live or edge unknown"),"503":E("No upstream")}}},
 "/v1/nodes":{"get":{"operationId":"listNodes","summary":"Every known node, its state and last report","security":admin,
   "responses":{"200":resp("Nodes",arr("NodeEntry")),"401":E("No token"),"403":E("Bad token")}}},
 "/v1/nodes/heartbeat":{"post":{"operationId":"heartbeat","summary":"Register or heartbeat (every second)","security":nodeauth,
   "requestBody":{"required":True,"content":{"application/json":{"schema":ref("NodeReport")}}},
   "responses":{"200":resp("Accepted",ref("HeartbeatAnswer")),"400":E("Invalid report"),"401":E("No token"),"403":E("Bad token"),"409":E("Node id registered with another role"),"413":E("Body too large"),"415":E("Not JSON"),"422":E("Wrong fields")}}},
 "/v1/nodes/{id}":{"delete":{"operationId":"deregister","summary":"Deregister (drain): leave routing at once","security":nodeauth,
   "parameters":[P("id","Node id")],"responses":{"204":{"description":"Removed"},"401":E("No token"),"403":E("Bad token"),"404":E("Unknown node")}}},
 "/v1/keys/validate":{"post":{"operationId":"validateKey","summary":"Which stream a publisher's key opens (origins)","security":nodeauth,
   "requestBody":{"required":True,"content":{"application/json":{"schema":ref("ValidateKey")}}},
   "responses":{"200":resp("Valid",ref("ValidatedKey")),"400":E("Bad key"),"401":E("No token"),"403":E("Bad token"),"404":E("Unknown or revoked key"),"422":E("Wrong fields")}}},
 "/v1/streams":{"post":{"operationId":"createStream","summary":"Create a stream and its first key (shown once)","security":admin,
   "requestBody":{"required":True,"content":{"application/json":{"schema":ref("CreateStream")}}},
   "responses":{"201":resp("Created",ref("StreamView")),"400":E("Bad name"),"401":E("No token"),"403":E("Bad token"),"409":E("Exists"),"415":E("Not JSON"),"422":E("Wrong fields")}},
   "get":{"operationId":"listStreams","summary":"Every stream","security":admin,"responses":{"200":resp("Streams",arr("StreamView")),"401":E("No token"),"403":E("Bad token")}}},
 "/v1/streams/{name}":{"get":{"operationId":"getStream","security":admin,"parameters":[P("name","Stream")],"responses":{"200":resp("Stream",ref("StreamView")),"400":E("Bad name"),"401":E("No token"),"403":E("Bad token"),"404":E("Unknown")}},
   "delete":{"operationId":"deleteStream","security":admin,"parameters":[P("name","Stream")],"responses":{"204":{"description":"Deleted"},"400":E("Bad name"),"401":E("No token"),"403":E("Bad token"),"404":E("Unknown")}}},
 "/v1/streams/{name}/keys":{"get":{"operationId":"listKeys","security":admin,"parameters":[P("name","Stream")],"responses":{"200":resp("Keys (never secrets)",arr("KeyView")),"401":E("No token"),"403":E("Bad token"),"404":E("Unknown stream")}},
   "post":{"operationId":"addKey","summary":"Add a key (others stay valid)","security":admin,"parameters":[P("name","Stream")],"responses":{"201":resp("The key, shown once",ref("IssuedKey")),"401":E("No token"),"403":E("Bad token"),"404":E("Unknown stream")}}},
 "/v1/streams/{name}/keys/rotate":{"post":{"operationId":"rotateKey","summary":"New key; every other key revoked","security":admin,"parameters":[P("name","Stream")],"responses":{"201":resp("The key, shown once",ref("IssuedKey")),"401":E("No token"),"403":E("Bad token"),"404":E("Unknown stream")}}},
 "/v1/streams/{name}/keys/{id}":{"delete":{"operationId":"revokeKey","security":admin,"parameters":[P("name","Stream"),P("id","Key id")],"responses":{"204":{"description":"Revoked"},"400":E("Bad input"),"401":E("No token"),"403":E("Bad token"),"404":E("No such active key")}}},
 "/v1/rooms/{room}/home":{"get":{"operationId":"roomHome","summary":"A room's home chat relay (sticky while it is alive)","security":nodeauth,
   "description":"The relay nearest the host: in the region of the origin where the stream is live, else in the asking relay's region.",
   "parameters":[P("room","Room"),{"name":"relay","in":"query","required":True,"schema":S,"description":"The asking relay's node id"}],
   "responses":{"200":resp("The home",ref("RoomHome")),"400":E("Bad input"),"401":E("No token"),"403":E("Bad token"),"404":E("Asking node is not a chat relay"),"503":E("No usable relay")}}},
 "/v1/records/chat":{"get":{"operationId":"chatRecords","summary":"The chat log, oldest first (keyset pages)","security":admin,
   "parameters":[Q("room","Room"),Q("user","Author user id"),Q("kind","chat, gift, like or system"),Q("from","From, Unix ms (inclusive)",I),Q("to","To, Unix ms (exclusive)",I),Q("cursor","next_cursor of the previous page"),Q("limit","1 to 1000, default 100",I)],
   "responses":{"200":resp("A page",ref("ChatPage")),"400":E("Bad filter or cursor"),"401":E("No token"),"403":E("Bad token")}}},
 "/v1/records/gifts":{"get":{"operationId":"giftRecords","summary":"The gift ledger, oldest first (keyset pages)","security":admin,
   "parameters":[Q("room","Room"),Q("user","Sender or host user id"),Q("from","From, Unix ms (inclusive)",I),Q("to","To, Unix ms (exclusive)",I),Q("cursor","next_cursor of the previous page"),Q("limit","1 to 1000, default 100",I)],
   "responses":{"200":resp("A page",ref("GiftPage")),"400":E("Bad filter or cursor"),"401":E("No token"),"403":E("Bad token")}}},
 "/v1/streams/{name}/stats":{"get":{"operationId":"streamStats","summary":"Per-region time series (a row per region every stats.interval)","security":admin,
   "parameters":[P("name","Stream"),Q("from","Start, Unix ms (default to - 1 h)",I),Q("to","End, Unix ms (default now)",I)],
   "responses":{"200":resp("Rows by time",arr("StatsPoint")),"400":E("Bad range"),"401":E("No token"),"403":E("Bad token")}}},
}
doc={"openapi":"3.1.0","info":{"title":"livecdn control plane","version":"1","description":"Node registry, routing, stream directory, keys and records. Errors are always JSON: {\"error\":{\"code\",\"message\"}}. Admin endpoints need Authorization: Bearer ADMIN_TOKEN (auth.admin_tokens); node endpoints need a node token (auth.node_tokens)."},
 "paths":paths,"components":{"schemas":schemas,"securitySchemes":{"admin":{"type":"http","scheme":"bearer"},"node":{"type":"http","scheme":"bearer"}}}}
print(json.dumps(doc,indent=1))
