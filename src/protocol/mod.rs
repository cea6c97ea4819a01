//! Every wire type of the server (REST request and response bodies, socket events) and the
//! validation of input, one file per resource. `validate` is the leaf the others build on; every
//! public item is re-exported here, so `crate::protocol::X` names any of them.
//!
//! The OpenAPI document (`src/openapi.json`) describes the REST shapes; the integration tests
//! check real responses against it.

pub mod admin;
pub mod auth;
pub mod conversations;
pub mod devices;
pub mod events;
pub mod messages;
pub mod meta;
pub mod users;
pub mod validate;

pub use admin::*;
pub use auth::*;
pub use conversations::*;
pub use devices::*;
pub use events::*;
pub use messages::*;
pub use meta::*;
pub use users::*;
pub use validate::*;
