pub mod dedup;
pub mod destination;
pub mod headers;
pub mod model;
pub mod retry;
pub mod settings;
pub mod verify;
