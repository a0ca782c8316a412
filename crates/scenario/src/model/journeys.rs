//! Journeys: ordered steps each identity walks through, with values carried between them.

use crate::diagnostic::Location;
use crate::model::Route;
use crate::model::fixtures::Capture;

/// One `[[journey]]`: its steps, in order. Each identity that walks it is an instance;
/// each step of an instance is a case (`file::journey::identity::step`).
#[derive(Debug, Clone)]
pub struct Journey {
    /// The name: in case names and in `{journey.capture}` placeholders.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Where the journey is declared (its `name`).
    pub location: Location,
}

/// One `[[journey.step]]`.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's name, last in its case names.
    pub name: String,
    /// Its request: an index into [`crate::Suite::routes`].
    pub route: usize,
    /// What to capture from its response for later steps.
    pub captures: Vec<Capture>,
    /// The request that undoes it, sent after the cases (in reverse order) as the
    /// step's sender, when the step was sent and its response was a 2xx.
    pub teardown: Option<Route>,
}

/// Where a case sits in a journey: the journey, the step, and who walks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyStep {
    /// Index into [`crate::Suite::journeys`].
    pub journey: usize,
    /// Index into [`Journey::steps`].
    pub step: usize,
    /// The identity walking the journey (the case's own identity is the sender, which
    /// `as` may change).
    pub walker: usize,
    /// The case of the step before, in the same walk: run first, and its captures used.
    pub previous: Option<usize>,
    /// The teardown's path with the sender's `{var}`s filled in.
    pub teardown_path: Option<String>,
}
