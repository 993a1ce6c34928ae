//! The multi-static ISAC system of `multistatic-isac.md` (Wang, Tian, Huang, Chen, Xu,
//! Zhang): one transmitter (TR), one moving target, K receivers (REs) that may cooperate
//! to localise it. Issue 3. Landed so far: the delay–Doppler FIM (model and printed
//! Proposition 3.1), the Doppler–delay geometry with localisation (47)-(55), and receiver
//! selection for a fixed beamformer (exhaustive, minimax linkage, k-means, fixed size).
//! Not yet: rates (20)-(21) in the model, SCA beamforming, matched-filter estimator,
//! command, figures.

pub mod fim;
pub mod geometry;
pub mod selection;
