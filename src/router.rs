//! Ready-made routers: a command table with a builder, and a router for
//! gates whose commands are dispatched elsewhere.
//!
//! Any `Fn(Call<'_>) -> Result<Value, Value>` and any
//! `HashMap<String, Handler>` is already a [`Router`]; [`Table`] is the same
//! table with less ceremony and with typed arguments.

use crate::gate::{Call, Handler, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// A table of command handlers by exact name.
///
/// ```
/// use isogate::router::Table;
/// use serde_json::json;
///
/// #[derive(serde::Deserialize)]
/// struct Add { a: i64, b: i64 }
///
/// let router = Table::new()
///     .command("greet", |call| {
///         let name = call.args.get("name").and_then(|v| v.as_str()).unwrap_or("");
///         Ok(json!(format!("Hello, {name}!")))
///     })
///     .typed("add", |args: Add, _call| Ok::<_, String>(args.a + args.b));
/// assert_eq!(router.names().collect::<Vec<_>>(), ["add", "greet"]);
/// ```
///
/// An unknown command name is answered with the app's error
/// ``"unknown command `name`"``, as the `HashMap` router does. The policy
/// normally stops such calls before they get here.
#[derive(Default)]
pub struct Table {
    handlers: HashMap<String, Handler>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` for the command `name`. A later registration of the
    /// same name replaces the earlier one.
    pub fn command(
        mut self,
        name: &str,
        handler: impl Fn(Call<'_>) -> Result<Value, Value> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(name.to_owned(), Box::new(handler));
        self
    }

    /// Adds a handler whose arguments are deserialized into `A` and whose
    /// result and error are serialized back to JSON. Arguments that do not
    /// deserialize are answered with the error `"invalid arguments"` and
    /// nothing more (no parser text reaches the caller).
    pub fn typed<A, T, E>(
        self,
        name: &str,
        handler: impl Fn(A, Call<'_>) -> Result<T, E> + Send + Sync + 'static,
    ) -> Self
    where
        A: DeserializeOwned,
        T: Serialize,
        E: Serialize,
    {
        self.command(name, move |call| {
            let args: A = serde_json::from_value(Value::Object(call.args.to_map()))
                .map_err(|_| Value::String("invalid arguments".into()))?;
            match handler(args, call) {
                Ok(v) => serde_json::to_value(v).map_err(|_| Value::Null),
                Err(e) => Err(serde_json::to_value(e).unwrap_or(Value::Null)),
            }
        })
    }

    /// The registered command names, sorted: handy to check that the policy
    /// allows nothing the app does not have.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }

    /// The table as the plain `HashMap` router.
    pub fn into_map(self) -> HashMap<String, Handler> {
        self.handlers
    }
}

impl Router for Table {
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        self.handlers.call(call)
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("commands", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// The router of a gate whose commands are dispatched elsewhere: through
/// [`Gate::check`](crate::Gate::check), the `tower` layer
/// or the JSON-RPC adapter. If [`Gate::handle`](crate::Gate::handle) is
/// called anyway, every admitted command gets the error `null`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRouter;

impl Router for NoRouter {
    fn call(&self, _call: Call<'_>) -> Result<Value, Value> {
        Err(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Sender;
    use crate::message::Object;
    use serde_json::json;

    fn call<'a>(cmd: &'a str, args: &'a Object<'a>) -> Call<'a> {
        Call {
            id: 1,
            cmd,
            args,
            body: &[],
            sender: Sender {
                window: "main",
                origin: "app://localhost",
            },
        }
    }

    #[derive(serde::Deserialize)]
    struct Add {
        a: i64,
        b: i64,
    }

    #[test]
    fn table_routes_by_exact_name() {
        let t = Table::new()
            .command("greet", |_| Ok(json!("hi")))
            .typed("add", |a: Add, _| {
                a.a.checked_add(a.b).ok_or_else(|| "overflow".to_owned())
            });
        let args = json!({"a": 2, "b": 40});
        let args = &Object::from_map(args.as_object().unwrap());
        assert_eq!(t.call(call("add", args)), Ok(json!(42)));
        assert_eq!(t.call(call("greet", args)), Ok(json!("hi")));
        assert_eq!(
            t.call(call("gree", args)),
            Err(json!("unknown command `gree`"))
        );
        let bad = json!({"a": "x"});
        assert_eq!(
            t.call(call("add", &Object::from_map(bad.as_object().unwrap()))),
            Err(json!("invalid arguments"))
        );
        let big = json!({"a": i64::MAX, "b": 1});
        assert_eq!(
            t.call(call("add", &Object::from_map(big.as_object().unwrap()))),
            Err(json!("overflow"))
        );
        assert_eq!(format!("{t:?}"), r#"Table { commands: ["add", "greet"] }"#);
        assert_eq!(NoRouter.call(call("add", args)), Err(Value::Null));
    }
}
