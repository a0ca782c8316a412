//! rolecall's example suite: the scenario files beside this crate are its data.
