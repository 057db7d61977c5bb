//! What the tests share, by job: the test app and how it is spawned, the callers and
//! fixtures it knows, fakes of Graph, signatures as each sender makes them, DynamoDB,
//! the binary as a child process, the test clock, and waiting on conditions.

mod app;
mod clock;
mod dynamo;
mod fixtures;
mod graph;
mod process;
mod responses;
mod signing;
mod tickets;
mod waiting;

pub use app::*;
pub use clock::*;
pub use dynamo::*;
pub use fixtures::*;
pub use graph::*;
pub use process::*;
pub use responses::*;
pub use signing::*;
pub use tickets::*;
pub use waiting::*;
