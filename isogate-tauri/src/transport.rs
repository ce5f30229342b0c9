//! What travels between the gate and Tauri's dispatch: an admitted isogate
//! call becomes a Tauri [`InvokeRequest`]'s parts, and Tauri's
//! [`InvokeResponse`] becomes the HTTP response to the page's request.

use isogate::CallRequest;
use serde_json::{Map, Value};
use tauri::http::{HeaderMap, HeaderName, HeaderValue};
use tauri::ipc::{InvokeBody, InvokeResponse, InvokeResponseBody};

/// The reserved argument that carries, sealed with the arguments, what
/// Tauri sends beside the payload: `{"headers": {name: value}, "raw": true}`
/// (both optional). Policies constrain it like any other argument.
pub const TAURI_ARG: &str = "$tauri";
/// Most headers one call may carry.
pub const MAX_HEADERS: usize = 32;
/// The response header that says whether a reply resolves (`ok`) or
/// rejects (`error`) the call. A response without it is a discard.
pub const RESULT_HEADER: &str = "Isogate-Result";

/// The parts of a Tauri invoke request, all taken from the sealed message.
#[derive(Debug)]
pub struct Dispatch {
    /// The command, e.g. `greet` or `plugin:fs|read_text_file`.
    pub cmd: String,
    /// The call id, used as both of Tauri's callback ids (the reply goes
    /// back on the HTTP response, never through them).
    pub callback: u32,
    /// The JSON arguments, or the binary body.
    pub body: InvokeBody,
    /// The headers the page passed in `options.headers`.
    pub headers: HeaderMap,
}

/// Maps an admitted call to Tauri's request parts; `None` (a discard) when
/// the call is not a well-formed Tauri call: an id over `u32`, a malformed
/// `$tauri` argument, or a binary body together with other arguments.
pub fn dispatch_of(call: CallRequest) -> Option<Dispatch> {
    let callback = u32::try_from(call.id).ok()?;
    let mut args: Map<String, Value> = call.args.to_map();
    let mut raw = !call.body.is_empty();
    let mut headers = HeaderMap::new();
    if let Some(extra) = args.remove(TAURI_ARG) {
        let Value::Object(extra) = extra else {
            return None;
        };
        for (field, value) in extra {
            match (field.as_str(), value) {
                ("raw", Value::Bool(true)) => raw = true,
                ("headers", Value::Object(map)) => {
                    if map.len() > MAX_HEADERS {
                        return None;
                    }
                    for (name, value) in map {
                        let Value::String(value) = value else {
                            return None;
                        };
                        headers.append(
                            HeaderName::from_bytes(name.as_bytes()).ok()?,
                            HeaderValue::from_str(&value).ok()?,
                        );
                    }
                }
                _ => return None,
            }
        }
    }
    let body = if raw {
        if !args.is_empty() {
            return None;
        }
        InvokeBody::Raw(call.body)
    } else {
        InvokeBody::Json(Value::Object(args))
    };
    Some(Dispatch {
        cmd: call.cmd,
        callback,
        body,
        headers,
    })
}

/// The Tauri command that registers an event listener in the page.
pub const LISTEN_CMD: &str = "plugin:event|listen";

/// The event a `plugin:event|listen` call subscribes to; `None` for any
/// other command (or a listen without an event name, which Tauri refuses).
pub fn listened_event(dispatch: &Dispatch) -> Option<&str> {
    match &dispatch.body {
        InvokeBody::Json(args) if dispatch.cmd == LISTEN_CMD => args.get("event")?.as_str(),
        _ => None,
    }
}

/// A reply for the page: the `Isogate-Result` value, the content type and
/// the body.
pub fn reply_of(response: InvokeResponse) -> (&'static str, &'static str, Vec<u8>) {
    match response {
        InvokeResponse::Ok(InvokeResponseBody::Json(text)) => {
            ("ok", "application/json", text.into_bytes())
        }
        InvokeResponse::Ok(InvokeResponseBody::Raw(bytes)) => {
            ("ok", "application/octet-stream", bytes)
        }
        InvokeResponse::Err(error) => (
            "error",
            "application/json",
            serde_json::to_vec(&error.0).unwrap_or_else(|_| b"null".to_vec()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isogate::Object;
    use serde_json::json;

    fn call(id: u64, args: Value, body: &[u8]) -> CallRequest {
        let Value::Object(map) = args else {
            unreachable!("test args are objects")
        };
        CallRequest {
            id,
            cmd: "c".into(),
            args: Object::from_map(&map).into_owned(),
            body: body.to_vec(),
            window: "main".into(),
            origin: "tauri://localhost".into(),
            load_id: 1,
        }
    }

    #[test]
    fn json_arguments_stay_json() {
        let d = dispatch_of(call(7, json!({"name": "x", "n": 2}), b"")).unwrap();
        assert_eq!(d.callback, 7);
        assert_eq!(d.cmd, "c");
        assert!(d.headers.is_empty());
        assert!(matches!(d.body, InvokeBody::Json(v) if v == json!({"name": "x", "n": 2})));
    }

    #[test]
    fn a_binary_body_is_raw_and_headers_travel_sealed() {
        let d = dispatch_of(call(
            1,
            json!({"$tauri": {"headers": {"path": "a%2Fb", "tauri-channel-id": "3"}}}),
            b"\x00\x01\xff",
        ))
        .unwrap();
        assert!(matches!(&d.body, InvokeBody::Raw(b) if b == b"\x00\x01\xff"));
        assert_eq!(d.headers.get("path").unwrap(), "a%2Fb");
        assert_eq!(d.headers.get("Tauri-Channel-Id").unwrap(), "3");
    }

    #[test]
    fn an_empty_binary_body_is_raw_when_marked() {
        let d = dispatch_of(call(1, json!({"$tauri": {"raw": true}}), b"")).unwrap();
        assert!(matches!(&d.body, InvokeBody::Raw(b) if b.is_empty()));
        let d = dispatch_of(call(1, json!({}), b"")).unwrap();
        assert!(matches!(&d.body, InvokeBody::Json(v) if *v == json!({})));
    }

    #[test]
    fn malformed_tauri_calls_are_refused() {
        let refused = [
            call(u64::from(u32::MAX) + 1, json!({}), b""),
            call(1, json!({"name": "x"}), b"body beside arguments"),
            call(1, json!({"name": "x", "$tauri": {"raw": true}}), b""),
            call(1, json!({"$tauri": "x"}), b""),
            call(1, json!({"$tauri": {"raw": false}}), b""),
            call(1, json!({"$tauri": {"other": 1}}), b""),
            call(1, json!({"$tauri": {"headers": {"a": 1}}}), b""),
            call(1, json!({"$tauri": {"headers": {"bad name": "v"}}}), b""),
            call(1, json!({"$tauri": {"headers": {"a": "line\nbreak"}}}), b""),
        ];
        for c in refused {
            let shown = format!("{:?}", c.args.to_map());
            assert!(dispatch_of(c).is_none(), "{shown}");
        }
        let many: Map<String, Value> = (0..=MAX_HEADERS)
            .map(|i| (format!("h{i}"), json!("v")))
            .collect();
        assert!(dispatch_of(call(1, json!({"$tauri": {"headers": many}}), b"x")).is_none());
    }

    #[test]
    fn the_event_a_listen_subscribes_to() {
        let mut c = call(1, json!({"event": "core-ping", "handler": 3}), b"");
        c.cmd = LISTEN_CMD.into();
        assert_eq!(listened_event(&dispatch_of(c).unwrap()), Some("core-ping"));
        let c = call(1, json!({"event": "core-ping"}), b"");
        assert_eq!(
            listened_event(&dispatch_of(c).unwrap()),
            None,
            "not a listen"
        );
        let mut c = call(1, json!({"handler": 3}), b"");
        c.cmd = LISTEN_CMD.into();
        assert_eq!(listened_event(&dispatch_of(c).unwrap()), None);
    }

    #[test]
    fn replies_say_ok_or_error() {
        let (r, t, b) = reply_of(InvokeResponse::Ok(InvokeResponseBody::Json("1".into())));
        assert_eq!((r, t, b.as_slice()), ("ok", "application/json", &b"1"[..]));
        let (r, t, b) = reply_of(InvokeResponse::Ok(InvokeResponseBody::Raw(vec![1, 2])));
        assert_eq!(
            (r, t, b.as_slice()),
            ("ok", "application/octet-stream", &[1u8, 2][..])
        );
        let (r, t, b) = reply_of(InvokeResponse::Err(tauri::ipc::InvokeError(json!("no"))));
        assert_eq!(
            (r, t, b.as_slice()),
            ("error", "application/json", &b"\"no\""[..])
        );
    }
}
