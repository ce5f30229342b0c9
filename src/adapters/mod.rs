//! Adapters that put a [`Gate`](crate::Gate) in front of routers people
//! already have, each behind its own cargo feature:
//!
//! - `tower`: `tower::GateLayer` turns a `tower::Service` over
//!   [`CallRequest`](crate::CallRequest)s into a service over raw envelopes.
//! - `jsonrpc`: `jsonrpc::JsonRpc` dispatches admitted commands to a
//!   jsonrpsee `RpcModule` as JSON-RPC 2.0 requests.
//!
//! Plain closures, `HashMap<String, Handler>` tables and
//! [`router::Table`](crate::router::Table) need no adapter: they are
//! [`Router`](crate::Router)s.

#[cfg(feature = "jsonrpc")]
pub mod jsonrpc;
#[cfg(feature = "tower")]
pub mod tower;
