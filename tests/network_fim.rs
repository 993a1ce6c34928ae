//! The position FIM of the network ISAC echo (6)/(27): the closed form of
//! `isac::systems::network::model` against the numerical FIM of the sampled echo model,
//! computed by finite differences of the stacked mean `mu(xi)` with explicit transmit
//! samples `X_{s'}` whose sample covariances are exactly `C_{s'}` and mutually
//! uncorrelated; then the Schur-complement CRLB of Proposition 1 against the inverse of
//! the full numerical FIM, and two invariances.

use faer::Mat;
use isac::fim::max_scaled_difference;
use isac::physics::array::{PhaseSign, Ula};
use isac::physics::geometry::angle;
use isac::systems::network::{NetworkModel, NetworkScenario};
use isac::C64;
use rand::{Rng, SeedableRng};

fn scenario(extra: &str) -> NetworkScenario {
    let text = format!("system = \"network\"\nantennas = 4\nsamples = 16\n{extra}");
    NetworkScenario::from_table(&text.parse().unwrap()).unwrap()
}

fn random_covariance(rng: &mut impl Rng, n: usize, power: f64) -> Mat<C64> {
    let a = Mat::from_fn(n, n, |_, _| {
        C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0))
    });
    let c = &a * a.adjoint();
    let tr: f64 = (0..n).map(|i| c[(i, i)].re).sum();
    Mat::from_fn(n, n, |r, q| c[(r, q)] * (power / tr))
}

/// `X_q = sqrt(L) C_q^{1/2} Phi_q` with `Phi_q` disjoint rows of the unitary DFT.
fn samples(covs: &[Mat<C64>], transmitters: &[usize], n: usize, l: usize) -> Vec<Mat<C64>> {
    assert!(n * transmitters.len() <= l);
    let mut out = vec![Mat::zeros(n, l); covs.len()];
    for (q, &t) in transmitters.iter().enumerate() {
        let root = isac::linalg::hermitian_sqrt(&covs[t]).unwrap();
        let phi = Mat::from_fn(n, l, |r, c| {
            let row = (q * n + r) as f64;
            C64::from_polar(
                1.0 / (l as f64).sqrt(),
                -2.0 * std::f64::consts::PI * row * c as f64 / l as f64,
            )
        });
        out[t] = Mat::from_fn(n, l, |r, c| {
            (0..n).map(|m| root[(r, m)] * phi[(m, c)]).sum::<C64>() * (l as f64).sqrt()
        });
    }
    out
}

/// The stacked echo mean of (27) for receiver `r` at parameters
/// `xi = [p1, p2, Re alpha (T), Im alpha (T)]`, computed from the geometry directly.
fn echo_mean(
    model: &NetworkModel,
    r: usize,
    transmitters: &[usize],
    x: &[Mat<C64>],
    xi: &[f64],
) -> Vec<C64> {
    let bs = &model.scenario.base_stations;
    let p = [xi[0], xi[1]];
    let t = transmitters.len();
    let ula = Ula::new(model.antennas(), 0.5, PhaseSign::Negative);
    let ar = ula.steering(angle(bs[r], p));
    let (n, l) = (x[transmitters[0]].nrows(), x[transmitters[0]].ncols());
    let mut mu = vec![C64::new(0.0, 0.0); n * l];
    for (q, &s) in transmitters.iter().enumerate() {
        let alpha = C64::new(xi[2 + q], xi[2 + t + q]);
        let at = ula.steering(angle(bs[s], p));
        // a^H(theta_s') X_s': a row of length L
        let row: Vec<C64> = (0..l)
            .map(|c| (0..n).map(|m| at[m].conj() * x[s][(m, c)]).sum())
            .collect();
        for c in 0..l {
            for a in 0..n {
                mu[c * n + a] += alpha * ar[a] * row[c];
            }
        }
    }
    mu
}

fn numerical_fim(model: &NetworkModel, r: usize, covs: &[Mat<C64>]) -> Mat<f64> {
    let s = model.bs_count();
    let transmitters: Vec<usize> = (0..s).filter(|&t| t != r).collect();
    let t = transmitters.len();
    let x = samples(
        covs,
        &transmitters,
        model.antennas(),
        model.scenario.samples,
    );
    let target = model.scenario.target;
    let mut xi = vec![target[0], target[1]];
    xi.extend(transmitters.iter().map(|&q| model.echo_gains[r][q].re));
    xi.extend(transmitters.iter().map(|&q| model.echo_gains[r][q].im));
    let np = xi.len();
    let jac: Vec<Vec<C64>> = (0..np)
        .map(|m| {
            let h = if m < 2 {
                1e-4
            } else {
                1e-3 * model.echo_gains[r][transmitters[(m - 2) % t]].norm()
            };
            let (mut up, mut dn) = (xi.clone(), xi.clone());
            up[m] += h;
            dn[m] -= h;
            let (a, b) = (
                echo_mean(model, r, &transmitters, &x, &up),
                echo_mean(model, r, &transmitters, &x, &dn),
            );
            a.iter().zip(&b).map(|(u, d)| (u - d) / (2.0 * h)).collect()
        })
        .collect();
    let scale = 2.0 / model.scenario.bs_noise;
    Mat::from_fn(np, np, |i, j| {
        scale
            * jac[i]
                .iter()
                .zip(&jac[j])
                .map(|(a, b)| (a.conj() * b).re)
                .sum::<f64>()
    })
}

fn covariances(rng: &mut impl Rng, model: &NetworkModel) -> Vec<Mat<C64>> {
    (0..model.bs_count())
        .map(|_| {
            let power = rng.gen_range(0.5..20.0);
            random_covariance(rng, model.antennas(), power)
        })
        .collect()
}

#[test]
fn closed_form_fim_matches_the_numerical_fim_of_the_echo_model() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut worst: f64 = 0.0;
    for case in 0..12 {
        let target = [rng.gen_range(-120.0..120.0), rng.gen_range(-120.0..120.0)];
        let model = NetworkModel::new(scenario(&format!(
            "target = [{}, {}]\nseed = {case}",
            target[0], target[1]
        )))
        .unwrap();
        let covs = covariances(&mut rng, &model);
        for r in 0..model.bs_count() {
            let closed = model.fim_map(r).unwrap().blocks(&covs).full();
            let numerical = numerical_fim(&model, r, &covs);
            let e = max_scaled_difference(&closed, &numerical);
            assert!(e < 1e-6, "case {case}, receiver {r}: scaled error {e:.3e}");
            worst = worst.max(e);
        }
    }
    eprintln!("worst scaled FIM error {worst:.3e}");
}

#[test]
fn schur_crlb_equals_the_position_block_of_the_inverse_fim() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let model = NetworkModel::new(scenario("")).unwrap();
    for r in 0..model.bs_count() {
        let covs = covariances(&mut rng, &model);
        let blocks = model.fim_map(r).unwrap().blocks(&covs);
        let f = numerical_fim(&model, r, &covs);
        let inv = isac::linalg::spd_inverse(&f).unwrap();
        let direct = inv[(0, 0)] + inv[(1, 1)];
        let crlb = blocks.crlb();
        assert!(
            (crlb - direct).abs() < 1e-6 * direct,
            "receiver {r}: Schur CRLB {crlb:e} vs tr([F^-1]_pp) {direct:e}"
        );
    }
}

#[test]
fn crlb_does_not_depend_on_the_echo_phases_and_scales_inversely_with_power() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let gains = "echo_gains = [[0, 1e-13, 2e-13, 3e-13], [1e-13, 0, 4e-13, 5e-13], [2e-13, 4e-13, 0, 6e-13], [3e-13, 5e-13, 6e-13, 0]]";
    let a = NetworkModel::new(scenario(&format!("{gains}\nseed = 1"))).unwrap();
    let b = NetworkModel::new(scenario(&format!("{gains}\nseed = 2"))).unwrap();
    assert!((a.echo_gains[0][1] - b.echo_gains[0][1]).norm() > 1e-9 * a.echo_gains[0][1].norm());
    let covs = covariances(&mut rng, &a);
    for r in 0..4 {
        let ca = a.fim_map(r).unwrap().blocks(&covs).crlb();
        let cb = b.fim_map(r).unwrap().blocks(&covs).crlb();
        assert!((ca - cb).abs() < 1e-9 * ca, "receiver {r}: {ca} vs {cb}");
        let doubled: Vec<Mat<C64>> = covs
            .iter()
            .map(|c| Mat::from_fn(c.nrows(), c.ncols(), |i, j| c[(i, j)] * 2.0))
            .collect();
        let cd = a.fim_map(r).unwrap().blocks(&doubled).crlb();
        assert!(
            (cd - ca / 2.0).abs() < 1e-9 * ca,
            "receiver {r}: {cd} vs {}",
            ca / 2.0
        );
    }
}

#[test]
fn a_single_transmitter_cannot_localise_with_unknown_gain_unless_the_angles_differ() {
    // Only one transmitter radiates: the echo still holds two angles (AoA and AoD), so the
    // position is identifiable; with every transmitter silent it is not.
    let model = NetworkModel::new(scenario("")).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut covs = vec![Mat::<C64>::zeros(4, 4); 4];
    assert!(model.fim_map(0).unwrap().blocks(&covs).crlb().is_infinite());
    covs[1] = random_covariance(&mut rng, 4, 10.0);
    let c = model.fim_map(0).unwrap().blocks(&covs).crlb();
    assert!(c.is_finite() && c > 0.0, "{c}");
}
