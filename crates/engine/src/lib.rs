//! kona's engine actor, driving the execution layer through typed in-process calls.
//!
//! kona-engine 0.1.2 talks to the execution layer only through `EngineClient`, a concrete
//! HTTP + JWT client, and its tasks take that concrete type. Inside `rollup` the execution layer
//! is in the same process, so every engine call would pay a loopback socket and, for block reads,
//! a JSON round trip of the whole block. This crate keeps kona's engine *rules* and replaces the
//! transport:
//!
//! - [`ExecutionEngine`]: the typed, reth-free seam — new payload, forkchoice update with or
//!   without attributes, get payload, head reads. `bin/rollup` implements it over reth's own OP
//!   engine API handler, so reth's version and attribute checks still apply.
//! - [`InProcessEngineActor`]: a `NodeActor` with kona's `EngineInboundData`/`EngineContext`
//!   contract, so it plugs into kona's other actors unchanged. Its task queue follows kona-engine
//!   0.1.2: EL sync and the first reset, unsafe block insertion, block building, consolidation
//!   of derived attributes (match → safe; mismatch → build and reorg), Holocene's deposits-only
//!   replacement, finalization from L1 finality, resets, and kona's engine queries.
//! - [`AddedBlocks`]: what the execution layer's block tree took in last, so that a block it
//!   built is not imported (and executed again) before the tree has it.
//! - Block reads by number or hash come from the
//!   [`BufferedL2Provider`](rollup_providers_local::BufferedL2Provider) (the block is in memory)
//!   with the execution layer's database behind it; only labelled heads ask the engine.
//! - With a [`SafeHeadDb`](rollup_safe_head_db::SafeHeadDb) the actor records every safe-head
//!   move made by consolidation against the L1 block it was derived from, and on every reset
//!   drops the entries the reset voided (`optimism_safeHeadAtL1Block` answers from it).

mod added_blocks;
pub use added_blocks::AddedBlocks;

mod api;
pub use api::{ExecutionEngine, L1BlockReader, L2Head};

mod attributes;
pub use attributes::{AttributesMismatch, check_attributes, deposits_only, is_deposits_only};

mod actor;
pub use actor::{EngineActorBuilder, InProcessEngineActor};

mod error;
pub use error::{BoxedError, EngineError, Severity};

mod engine_metrics;
pub use engine_metrics::EngineMetrics;

mod queue;
pub use queue::{DerivedSafeHead, EngineCore, TASK_RETRY_LIMIT, Task, payload_to_block};

mod safe_heads;

mod output;
pub use output::output_root;

mod reset;
pub use reset::{StartingForkchoice, find_starting_forkchoice};
