//! Reading plain JSON values into the crate's structs by hand, in place of serde's derived `Deserialize`.
//!
//! A derived `Deserialize` compiles one field visitor and one map walk per struct for each deserializer it meets
//! (serde_json's `Value` deserializer here): 2 to 7 KB of wasm per struct. These readers walk a [`Value`] that
//! is already built, sharing the few helpers below, and the types keep a `Deserialize` impl (written with
//! [`deserialize_by_hand!`](crate::deserialize_by_hand)) so `serde_json::from_value`/`from_str` callers do not change.
//!
//! They accept what the derive accepted, and their messages say the same things: `missing field `x``,
//! `invalid type: null, expected a string`, `unknown variant `x`, expected one of `a`, `b``.
//! One form serde also read is no longer read (nothing writes it): a struct as an array of its fields in order.

use serde_json::{Map, Value};

/// A reader's result: the message says what is wrong.
pub type Read<T> = std::result::Result<T, String>;

/// How serde names a JSON value's type in an `invalid type` message.
pub fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) if n.is_f64() => format!("floating point `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string \"{s}\""),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// `invalid type: <what v is>, expected <expected>`.
pub fn invalid(v: &Value, expected: &str) -> String {
    format!("invalid type: {}, expected {expected}", kind_of(v))
}

/// The fields of a JSON object being read as a struct.
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// `v` as the fields of `struct name`.
    pub fn of(v: &'a Value, name: &str) -> Read<Fields<'a>> {
        v.as_object().map(Fields).ok_or_else(|| invalid(v, &format!("struct {name}")))
    }

    /// The same, refusing a field not in `known` (serde's `deny_unknown_fields`).
    pub fn only(v: &'a Value, name: &str, known: &[&str]) -> Read<Fields<'a>> {
        let f = Fields::of(v, name)?;
        if let Some(k) = f.0.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unknown field `{k}`, expected {}", one_of(known)));
        }
        Ok(f)
    }

    /// A field that must be present.
    pub fn req(&self, name: &str) -> Read<&'a Value> {
        self.0.get(name).ok_or_else(|| format!("missing field `{name}`"))
    }

    /// A field that may be absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name)
    }

    /// A required field read by `read`.
    pub fn with<T>(&self, name: &str, read: impl FnOnce(&'a Value) -> Read<T>) -> Read<T> {
        read(self.req(name)?)
    }

    /// A field read by `read`, or `T::default()` when absent (`#[serde(default)]`).
    pub fn or_default<T: Default>(&self, name: &str, read: impl FnOnce(&'a Value) -> Read<T>) -> Read<T> {
        self.get(name).map_or_else(|| Ok(T::default()), read)
    }

    /// An `Option` field: absent or null is `None`.
    pub fn opt<T>(&self, name: &str, read: impl FnOnce(&'a Value) -> Read<T>) -> Read<Option<T>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => read(v).map(Some),
        }
    }

    /// A JSON value field, null when absent.
    pub fn value(&self, name: &str) -> Value {
        self.get(name).cloned().unwrap_or(Value::Null)
    }
}

/// `` `a`, `b` `` as serde lists expected names.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".into(),
        [one] => format!("`{one}`"),
        [a, b] => format!("`{a}` or `{b}`"),
        _ => format!("one of {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
    }
}

/// A string.
pub fn string(v: &Value) -> Read<String> {
    v.as_str().map(str::to_string).ok_or_else(|| invalid(v, "a string"))
}

/// An unsigned integer up to `max` (`what` names the type: `u32`).
pub fn unsigned(v: &Value, max: u64, what: &str) -> Read<u64> {
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(format!("invalid value: integer `{n}`, expected {what}")),
        None if v.as_i64().is_some() => Err(format!("invalid value: {}, expected {what}", kind_of(v))),
        None => Err(invalid(v, what)),
    }
}

/// A `u64`.
pub fn u64(v: &Value) -> Read<u64> {
    unsigned(v, u64::MAX, "u64")
}

/// A `u32`.
pub fn u32(v: &Value) -> Read<u32> {
    unsigned(v, u32::MAX.into(), "u32").map(|n| n as u32)
}

/// A `u16`.
pub fn u16(v: &Value) -> Read<u16> {
    unsigned(v, u16::MAX.into(), "u16").map(|n| n as u16)
}

/// A `u8`.
pub fn u8(v: &Value) -> Read<u8> {
    unsigned(v, u8::MAX.into(), "u8").map(|n| n as u8)
}

/// An `i32`.
pub fn i32(v: &Value) -> Read<i32> {
    match v.as_i64() {
        Some(n) => i32::try_from(n).map_err(|_| format!("invalid value: integer `{n}`, expected i32")),
        None if v.as_u64().is_some() => Err(format!("invalid value: {}, expected i32", kind_of(v))),
        None => Err(invalid(v, "i32")),
    }
}

/// An `f64` (any JSON number).
pub fn f64(v: &Value) -> Read<f64> {
    v.as_f64().ok_or_else(|| invalid(v, "f64"))
}

/// A JSON object (a row).
pub fn object(v: &Value) -> Read<Map<String, Value>> {
    v.as_object().cloned().ok_or_else(|| invalid(v, "a map"))
}

/// An array of what `read` reads.
pub fn list<T>(v: &Value, read: impl Fn(&Value) -> Read<T>) -> Read<Vec<T>> {
    v.as_array().ok_or_else(|| invalid(v, "a sequence"))?.iter().map(read).collect()
}

/// JSON text holding an array. Parsed as a [`Value`]: parsing a typed `Vec<Value>` from text compiles serde_json's
/// typed reader (and its error path, which formats floats) for that one type.
pub fn json_array(text: &str) -> Read<Vec<Value>> {
    match serde_json::from_str(text).map_err(|e: serde_json::Error| e.to_string())? {
        Value::Array(a) => Ok(a),
        other => Err(invalid(&other, "a sequence")),
    }
}

/// A unit variant of an enum, by name (`"post"`, or `{"post": null}`): the index of the name in `names`.
pub fn variant(v: &Value, names: &[&str]) -> Read<usize> {
    let (name, unit) = match v {
        Value::String(s) => (s, &Value::Null),
        Value::Object(m) if m.len() == 1 => m.iter().next().unwrap(),
        Value::Object(_) => return Err("invalid value: map, expected map with a single key".into()),
        other => return Err(invalid(other, "string or map")),
    };
    let i = names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| format!("unknown variant `{name}`, expected {}", one_of(names)))?;
    if !unit.is_null() {
        return Err(invalid(unit, "unit"));
    }
    Ok(i)
}

/// Implements `serde::Deserialize` for a type with a `fn read(&Value) -> Read<Self>`: the input is read as a
/// [`Value`] first (serde_json's own code, shared by every type), then by the type's reader.
#[macro_export]
macro_rules! deserialize_by_hand {
    ($t:ty) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<$t, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                <$t>::read(&v).map_err(<D::Error as serde::de::Error>::custom)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    //! The readers against serde's derive: twins of the structs with the derive and the same attributes read the
    //! same inputs (valid ones, and each field missing, null or of another type); both must accept the same
    //! inputs, give the same values, and fail with the same message. Except: a struct as an array of its fields
    //! (serde's sequence form), which the readers refuse.
    use serde::{Deserialize, Serialize};
    use serde_json::{json, Value};

    use crate::hooks::{Failure, HookEntry};
    use crate::sync::{OutboxEntry, PendingChange, SyncError};

    mod derived {
        use serde::{Deserialize, Serialize};
        use serde_json::Value;

        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum Kind {
            Post,
            Online,
        }
        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum State {
            Pending,
            Dead,
        }
        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct Failure {
            #[serde(default)]
            message: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            error_code: Option<f64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            error_name: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            status: Option<u16>,
        }
        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct HookEntry {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            seq: Option<u64>,
            kind: Kind,
            state: State,
            name: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            table: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            message: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            id: Option<String>,
            #[serde(default)]
            record: Value,
            #[serde(default)]
            previous: Value,
            #[serde(default)]
            depth: u32,
            #[serde(default)]
            request: Value,
            #[serde(default)]
            after_outbox_seq: u64,
            #[serde(default)]
            attempts: u32,
            #[serde(default)]
            next_attempt_at: f64,
            #[serde(default)]
            queued_on: f64,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            last_error: Option<Failure>,
        }
        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum Action {
            Create,
            Update,
            Delete,
        }
        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct OutboxEntry {
            seq: u64,
            table: String,
            id: String,
            action: Action,
            #[serde(default)]
            changes: serde_json::Map<String, Value>,
            #[serde(default)]
            etag: Option<String>,
            #[serde(default)]
            queued_on: Option<String>,
        }
        #[derive(Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct PendingChange {
            table: String,
            id: String,
            action: Action,
            changes: serde_json::Map<String, Value>,
            etag: Option<String>,
            seqs: Vec<u64>,
        }
        #[derive(Serialize, Deserialize)]
        pub struct Regarding {
            table: String,
            id: String,
        }
        #[derive(Serialize, Deserialize)]
        pub struct SyncError {
            syncerrorid: String,
            name: String,
            action: String,
            #[serde(skip_serializing_if = "Option::is_none", default)]
            actiondata: Option<Value>,
            requestdata: String,
            errorcode: String,
            errormessage: String,
            #[serde(skip_serializing_if = "Option::is_none", default)]
            errordetail: Option<String>,
            errortype: u8,
            errortime: String,
            regardingobjectid: Regarding,
            statecode: u8,
        }
    }

    /// `base`, and `base` with each field (at the top and one level down) removed or replaced by each of `odd`.
    fn variants(base: &Value) -> Vec<Value> {
        let odd = [
            json!(null),
            json!("x"),
            json!("post"),
            json!("update"),
            json!(7),
            json!(-1),
            json!(1.5),
            json!(70000),
            json!(300),
            json!(true),
            json!([1, 2]),
            json!({"a": 1}),
            json!({"post": null}),
            json!({"update": null}),
            json!({"dead": 1}),
            json!({"a": 1, "b": 2}),
        ];
        let mut out = vec![base.clone(), json!(null), json!([]), json!("s")];
        let obj = base.as_object().unwrap();
        for (k, v) in obj {
            let mut m = obj.clone();
            m.remove(k);
            out.push(Value::Object(m));
            for o in &odd {
                let mut m = obj.clone();
                m.insert(k.clone(), o.clone());
                out.push(Value::Object(m));
            }
            if let Some(inner) = v.as_object() {
                for k2 in inner.keys() {
                    for o in &odd {
                        let mut m = obj.clone();
                        m[k][k2] = o.clone();
                        out.push(Value::Object(m));
                    }
                }
            }
        }
        let mut extra = obj.clone();
        extra.insert("unknownField".into(), json!(1));
        out.push(Value::Object(extra));
        out
    }

    fn same<A, B>(base: Value)
    where
        A: for<'de> Deserialize<'de> + Serialize,
        B: for<'de> Deserialize<'de> + Serialize,
    {
        let all = variants(&base);
        let mut accepted = 0;
        for v in all {
            if v.is_array() {
                assert!(serde_json::from_value::<A>(v.clone()).is_err(), "input {v}");
                continue;
            }
            let ours = serde_json::from_value::<A>(v.clone()).map(|a| serde_json::to_value(a).unwrap());
            let derived = serde_json::from_value::<B>(v.clone()).map(|b| serde_json::to_value(b).unwrap());
            match (ours, derived) {
                // The sequence form of a nested struct (see the module's doc).
                (Err(a), _) if a.to_string().starts_with("invalid type: sequence, expected struct") => {}
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "input {v}");
                    accepted += 1;
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "input {v}"),
                (a, b) => panic!("input {v}: ours {a:?}, derived {b:?}"),
            }
        }
        assert!(accepted > 3, "only {accepted} inputs accepted");
    }

    #[test]
    fn json_arrays_read_like_a_typed_parse() {
        for text in ["[]", "[1, {\"a\": null}, \"x\"]", "{}", "3", "[1,", ""] {
            let typed = serde_json::from_str::<Vec<Value>>(text);
            let ours = super::json_array(text);
            assert_eq!(ours.is_ok(), typed.is_ok(), "{text}");
            if let (Ok(a), Ok(b)) = (ours, typed) {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn hook_entries_read_like_the_derive() {
        same::<HookEntry, derived::HookEntry>(json!({
            "seq": 4, "kind": "post", "state": "pending", "name": "h", "table": "account", "message": "Create",
            "id": "a1", "record": {"name": "A"}, "previous": null, "depth": 1, "request": {"method": "POST"},
            "afterOutboxSeq": 9, "attempts": 2, "nextAttemptAt": 1.5e12, "queuedOn": 1700000000000u64,
            "lastError": {"message": "m", "errorCode": -2147220891, "errorName": "N", "status": 500}
        }));
        same::<HookEntry, derived::HookEntry>(json!({"kind": "online", "state": "dead", "name": "A"}));
        same::<Failure, derived::Failure>(json!({"message": "m", "errorCode": 1.5, "errorName": "N", "status": 404}));
    }

    #[test]
    fn outbox_entries_read_like_the_derive() {
        same::<OutboxEntry, derived::OutboxEntry>(json!({
            "seq": 3, "table": "account", "id": "a1", "action": "update", "changes": {"name": "B"},
            "etag": "W/\"1\"", "queuedOn": "2024-01-01T00:00:00Z"
        }));
        same::<PendingChange, derived::PendingChange>(json!({
            "table": "account", "id": "a1", "action": "create", "changes": {"name": "B"}, "etag": null,
            "seqs": [1, 2]
        }));
    }

    #[test]
    fn sync_errors_read_like_the_derive() {
        same::<SyncError, derived::SyncError>(json!({
            "syncerrorid": "e1", "name": "Update of account a1 failed", "action": "Update",
            "actiondata": {"table": "account"}, "requestdata": "{}", "errorcode": "0x80040217",
            "errormessage": "gone", "errordetail": "d", "errortype": 1, "errortime": "2024-01-01T00:00:00Z",
            "regardingobjectid": {"table": "account", "id": "a1"}, "statecode": 0
        }));
    }
}
