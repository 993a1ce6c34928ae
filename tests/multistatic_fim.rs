//! The delay–Doppler FIM of one multi-static receiver: the model's closed form against
//! the numerical FIM of the paper's signal model (3) (relative error below 1e-6 with the
//! exact expectation, below 2% with Monte Carlo), the printed Proposition 3.1 against
//! both, the M^3 law of the Doppler information, and (17) on a hand example.

use faer::Mat;
use isac::physics::array::{PhaseSign, Ula};
use isac::physics::pulse::Pulse;
use isac::systems::multistatic::fim::{
    delay_doppler_fim, numerical_delay_doppler_fim, paper_u, printed_normalised_fim, FimVariant,
    ReceiverLink, SymbolExpectation, Waveform,
};
use isac::C64;
use rand::{Rng, SeedableRng};

const C: f64 = 299_792_458.0;

fn random_link(rng: &mut impl Rng, nt: usize, nr: usize) -> ReceiverLink {
    let d: f64 = rng.gen_range(20.0..200.0);
    ReceiverLink {
        path_loss: d.powf(-2.7),
        reflection: 0.6,
        rx_steering: Ula::new(nr, 0.5, PhaseSign::Positive).steering(rng.gen_range(-1.2..1.2)),
        tx_steering: Ula::new(nt, 0.5, PhaseSign::Positive).steering(rng.gen_range(-1.2..1.2)),
        delay: d / C,
        doppler: rng.gen_range(-2e4..2e4),
    }
}

fn random_q(rng: &mut impl Rng, nt: usize) -> Mat<C64> {
    let l = rng.gen_range(1..=nt);
    let b = Mat::from_fn(nt, l, |_, _| {
        C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0))
    });
    let r = &b * b.adjoint();
    let tr: f64 = (0..nt).map(|i| r[(i, i)].re).sum();
    Mat::from_fn(nt, nt, |i, j| r[(i, j)] * (1.0 / tr))
}

use isac::fim::max_scaled_difference as max_rel_err;

const NOISE: f64 = 2e-9; // sigma_c^2 + sigma_z^2 = 2 * (-60 dBm)

#[test]
fn model_closed_form_matches_numerical_fim() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut worst: f64 = 0.0;
    for case in 0..18 {
        let pulse = Pulse::ALL[case % 3];
        let nt = rng.gen_range(2..=5);
        let nr = rng.gen_range(1..=3);
        let link = random_link(&mut rng, nt, nr);
        let q = random_q(&mut rng, nt);
        let waveform = Waveform {
            pulse,
            symbol_duration: [5e-9, 1e-7, 1e-6][(case / 3) % 3] * rng.gen_range(0.5..2.0),
            symbols: rng.gen_range(3..=6),
        };
        let closed = delay_doppler_fim(&link, &q, &waveform, NOISE, FimVariant::Model);
        let num =
            numerical_delay_doppler_fim(&link, &q, &waveform, NOISE, SymbolExpectation::Exact);
        let e = max_rel_err(&num, &closed);
        assert!(
            e < 1e-6,
            "case {case} {pulse:?} {waveform:?}: rel err {e:e}"
        );
        worst = worst.max(e);
    }
    println!("model vs numerical: worst scaled entry error {worst:e}");
}

#[test]
fn model_closed_form_matches_monte_carlo() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for pulse in [Pulse::Cosine, Pulse::Sinc] {
        let link = random_link(&mut rng, 3, 2);
        let q = random_q(&mut rng, 3);
        let waveform = Waveform {
            pulse,
            symbol_duration: 5e-9,
            symbols: 4,
        };
        let closed = delay_doppler_fim(&link, &q, &waveform, NOISE, FimVariant::Model);
        let mc = numerical_delay_doppler_fim(
            &link,
            &q,
            &waveform,
            NOISE,
            SymbolExpectation::MonteCarlo {
                draws: 20_000,
                seed: 3,
            },
        );
        let e = max_rel_err(&mc, &closed);
        println!("{pulse:?}: Monte Carlo scaled error {e:e}");
        assert!(e < 0.02, "{pulse:?}: Monte Carlo rel err {e}");
    }
}

/// The printed variant: the Doppler term uses pulse-local time, so model/printed grows
/// like M^2 (eta/(1+alpha) and dt factors aside); the model's J_ff grows like M^3.
#[test]
fn printed_doppler_term_misses_absolute_time() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let link = random_link(&mut rng, 4, 2);
    let q = random_q(&mut rng, 4);
    for pulse in [Pulse::Cosine, Pulse::Sinc] {
        let at = |m: usize| {
            let w = Waveform {
                pulse,
                symbol_duration: 5e-9,
                symbols: m,
            };
            let model = delay_doppler_fim(&link, &q, &w, NOISE, FimVariant::Model);
            let paper = delay_doppler_fim(&link, &q, &w, NOISE, FimVariant::Paper { alpha: 0.5 });
            (model[(1, 1)], model[(1, 1)] / paper[(1, 1)])
        };
        // small M: the printed variant disagrees with the numerical FIM
        let w = Waveform {
            pulse,
            symbol_duration: 5e-9,
            symbols: 4,
        };
        let num = numerical_delay_doppler_fim(&link, &q, &w, NOISE, SymbolExpectation::Exact);
        let paper = delay_doppler_fim(&link, &q, &w, NOISE, FimVariant::Paper { alpha: 0.5 });
        assert!(max_rel_err(&paper, &num) > 1.0);
        // "large M" means M dt >> tau (here tau is up to ~130 dt): 2^16 and 2^17 symbols
        let (j1, r1) = at(1 << 16);
        let (j2, r2) = at(1 << 17);
        println!(
            "{pulse:?}: J_ff(2M)/J_ff(M) = {:.4}, (model/printed)(2M)/(model/printed)(M) = {:.4}, M = 2^16",
            j2 / j1,
            r2 / r1
        );
        assert!((j2 / j1 / 8.0 - 1.0).abs() < 1e-2, "M^3 law: {}", j2 / j1);
        assert!((r2 / r1 / 4.0 - 1.0).abs() < 1e-2, "M^2 law: {}", r2 / r1);
    }
}

/// Numbers of the paper's typical case (Section VI: M = 1024, dt = 5e-9 s, alpha = 0.5,
/// eta at d = 60 m, eps = 2.7), printed with --nocapture.
#[test]
fn typical_case_numbers() {
    let d: f64 = 60.0;
    let nt = 10;
    let link = ReceiverLink {
        path_loss: d.powf(-2.7),
        reflection: 0.6,
        rx_steering: Ula::new(2, 0.5, PhaseSign::Positive).steering(0.3),
        tx_steering: Ula::new(nt, 0.5, PhaseSign::Positive).steering(0.3),
        delay: d / C,
        doppler: 100.0,
    };
    // all power (1 W) beamformed towards the target
    let a = &link.tx_steering;
    let q = Mat::from_fn(nt, nt, |i, j| a[i].conj() * a[j] * (1.0 / nt as f64));
    for pulse in [Pulse::Cosine, Pulse::Sinc] {
        let w = Waveform {
            pulse,
            symbol_duration: 5e-9,
            symbols: 1024,
        };
        let model = delay_doppler_fim(&link, &q, &w, NOISE, FimVariant::Model);
        let paper = delay_doppler_fim(&link, &q, &w, NOISE, FimVariant::Paper { alpha: 0.5 });
        let paper_no_eta = delay_doppler_fim(
            &ReceiverLink {
                path_loss: 1.0,
                reflection: link.path_loss * link.reflection,
                ..link.clone()
            },
            &q,
            &w,
            NOISE,
            FimVariant::Paper { alpha: 0.0 },
        );
        println!(
            "{pulse:?}: model J = [{:e} {:e}; {:e} {:e}]",
            model[(0, 0)],
            model[(0, 1)],
            model[(1, 0)],
            model[(1, 1)]
        );
        println!(
            "{pulse:?}: printed J = [{:e} {:e}; {:e} {:e}]",
            paper[(0, 0)],
            paper[(0, 1)],
            paper[(1, 0)],
            paper[(1, 1)]
        );
        println!(
            "{pulse:?}: printed/model: J_tautau {:e}, J_ff {:e}; without the extra eta and (1+alpha): J_tautau {:e}, J_ff {:e}",
            paper[(0, 0)] / model[(0, 0)],
            paper[(1, 1)] / model[(1, 1)],
            paper_no_eta[(0, 0)] / model[(0, 0)],
            paper_no_eta[(1, 1)] / model[(1, 1)]
        );
        let crb = |j: &Mat<f64>| {
            let det = j[(0, 0)] * j[(1, 1)] - j[(0, 1)] * j[(1, 0)];
            (j[(1, 1)] / det, j[(0, 0)] / det)
        };
        let (ct, cf) = crb(&model);
        let (pt, pf) = crb(&paper);
        println!("{pulse:?}: CRB model tau {ct:e} s^2, f {cf:e} Hz^2; printed tau {pt:e} s^2, f {pf:e} Hz^2");
        // the printed delay term, mapped by the Jacobian, is 1/dt^2 too large before the
        // extra eta/(1+alpha): its (69) has 1/dt where dt is due
        let r = paper_no_eta[(0, 0)] / model[(0, 0)] * 5e-9 * 5e-9;
        assert!((r - 1.0).abs() < 1e-9, "{r}");
    }
}

#[test]
fn paper_u_hand_example() {
    let j1 = Mat::from_fn(2, 2, |i, j| [[2.0, 1.0], [1.0, 3.0]][i][j]);
    let j2 = Mat::<f64>::identity(2, 2);
    // sum = [[3, 1], [1, 4]], det 11, trace of inverse (3 + 4)/11
    let u = paper_u(&[j1, j2]);
    assert!((u - 7.0 / 11.0).abs() < 1e-14, "{u}");
    assert!(paper_u(&[]).is_infinite());
}

/// (18) is (17) with the printed (13)-(16) substituted, in normalised units.
#[test]
fn paper_u_matches_eighteen() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let q = random_q(&mut rng, 4);
    let w = Waveform {
        pulse: Pulse::Cosine,
        symbol_duration: 5e-9,
        symbols: 1024,
    };
    let links: Vec<ReceiverLink> = (0..3).map(|_| random_link(&mut rng, 4, 2)).collect();
    let fims: Vec<Mat<f64>> = links
        .iter()
        .map(|l| printed_normalised_fim(l, &q, &w, NOISE, 0.5))
        .collect();
    let (mut sc, mut si, mut ss) = (0.0, 0.0, 0.0);
    for j in &fims {
        si += j[(0, 0)];
        sc += j[(1, 1)];
        ss += j[(0, 1)];
    }
    let eighteen = (sc + si) / (sc * si - ss * ss);
    let u = paper_u(&fims);
    assert!((u / eighteen - 1.0).abs() < 1e-10, "{u} vs {eighteen}");
}
