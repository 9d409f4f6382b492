//! Persistence of a [`Resolver`]: what it learned and the records it
//! holds, checked on loading.

use serde::{Deserialize, Serialize};

use super::super::cluster::Entities;
use super::super::fellegi_sunter::FsModel;
use super::super::prepare::Prepared;
use super::super::settings::Settings;
use super::{MEstimate, Resolver, compile};
use crate::error::{Error, Result};

/// What a [`Resolver`] persists: what it learned and the records it holds;
/// everything derived (compiled comparisons, weights, the key index) is
/// rebuilt on loading.
#[derive(Serialize, Deserialize)]
struct ResolverState {
    settings: Settings,
    model: FsModel,
    prepared: Prepared,
    tf_u_exact: Vec<Option<f64>>,
    entities: Entities,
    ids: Vec<Box<str>>,
    m_estimation: Vec<MEstimate>,
}

impl Serialize for Resolver {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // Written through a borrowed twin of `ResolverState`, so nothing is cloned.
        #[derive(Serialize)]
        struct State<'a> {
            settings: &'a Settings,
            model: &'a FsModel,
            prepared: &'a Prepared,
            tf_u_exact: &'a [Option<f64>],
            entities: &'a Entities,
            ids: &'a [Box<str>],
            m_estimation: &'a [MEstimate],
        }
        State {
            settings: &self.settings,
            model: &self.model,
            prepared: &self.prepared,
            tf_u_exact: &self.tf_u_exact,
            entities: &self.entities,
            ids: &self.ids,
            m_estimation: &self.m_estimation,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Resolver {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let state = ResolverState::deserialize(d)?;
        Resolver::from_state(state).map_err(serde::de::Error::custom)
    }
}

impl Resolver {
    /// A resolver from its persisted state, checked as thoroughly as a fit's
    /// inputs: the settings, the prepared records, the model against the
    /// comparisons, and that ids and entities cover exactly the records.
    fn from_state(state: ResolverState) -> Result<Resolver> {
        let ResolverState {
            settings,
            model,
            prepared,
            tf_u_exact,
            entities,
            ids,
            m_estimation,
        } = state;
        settings.check()?;
        prepared.check()?;
        let n = prepared.len();
        if ids.len() != n {
            return Err(Error::lengths(
                "resolver state: record ids per prepared record",
                n,
                ids.len(),
            ));
        }
        if entities.n_records() != n {
            return Err(Error::lengths(
                "resolver state: entity records per prepared record",
                n,
                entities.n_records(),
            ));
        }
        let (comparisons, deterministic, rules) = compile(&settings, &prepared)?;
        if tf_u_exact.len() != comparisons.len() {
            return Err(Error::lengths(
                "resolver state: term-frequency entries per comparison",
                comparisons.len(),
                tf_u_exact.len(),
            ));
        }
        let mut resolver = Resolver {
            settings,
            prepared,
            comparisons,
            model: FsModel::new(Vec::new(), &[], 0.5)?,
            level_weights: Vec::new(),
            tf_u_exact,
            tf_weights: Vec::new(),
            deterministic,
            rules,
            entities,
            index: None,
            ids,
            m_estimation,
        };
        resolver.check_model(&model)?;
        resolver.model = model;
        resolver.refresh_weights();
        Ok(resolver)
    }
}
