//! The object-store boundary: the one module that turns hrefs into locations (and, with the
//! asset-lock probing work, into object stores).

pub mod href;

pub use href::{Located, Location, href_of, locate, normalize_endpoint, normalize_store_type};
