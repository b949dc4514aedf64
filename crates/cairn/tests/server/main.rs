//! Integration tests: each starts the real `cairn serve` binary on a free loopback port with a
//! temporary data directory and talks to it over HTTP, signing like SLS clients do.

mod agent;
mod api;
mod consume;
mod directory;
mod durability;
mod fleet;
mod fleet_agent;
mod harness;
mod isolation;
mod jobs;
mod security;
mod storage;
