//! The multi-static ISAC system of `multistatic-isac.md` (Wang, Tian, Huang, Chen, Xu,
//! Zhang): one transmitter (TR), one moving target, K receivers (REs) that may cooperate
//! to localise it. Issue 3. Landed so far: the delay–Doppler FIM (model and printed
//! Proposition 3.1) and the Doppler–delay geometry with localisation (47)-(55).
//! Not yet: receiver selection, SCA beamforming, matched-filter estimator, command,
//! figures.

pub mod fim;
pub mod geometry;
pub mod selection;
