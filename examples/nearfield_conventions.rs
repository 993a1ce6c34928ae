//! Measurements behind docs/nearfield.md#conventions: the sensing gain's magnitude
//! under each echo model, and where the Fresnel and the exact wavefronts differ by more
//! than 1% in the CRB. `cargo run --release --example nearfield_conventions`
use faer::Mat;
use isac::physics::wavefront::Wavefront;
use isac::systems::nearfield::design::{design_settings, fully_digital};
use isac::systems::nearfield::{NearfieldModel, NearfieldScenario};
use isac::C64;

fn model(src: &str, wf: Wavefront) -> NearfieldModel {
    let mut s = NearfieldScenario::from_toml_str(src).unwrap();
    s.mt_wavefront = wf;
    NearfieldModel::new(s).unwrap()
}

fn main() {
    println!("## least power of the SINR targets (duality) and the design's status, default drop");
    for g in [10.0, 20.0, 25.0, 28.0, 30.0, 32.0, 34.0] {
        let m = model(&format!("min_sinr_db = {g}"), Wavefront::Fresnel);
        let h: Vec<&[C64]> = m.user_channels.iter().map(|v| v.as_slice()).collect();
        let p = isac::systems::nearfield::design::minimum_downlink_power(
            &h,
            m.scenario.noise,
            m.scenario.min_sinr,
            f64::INFINITY,
        );
        let d = fully_digital(&m, &design_settings()).unwrap();
        println!(
            "gamma {g} dB: {p:?} W of 1 W; status {} restored {:?} margin {:?}",
            d.status.as_str(),
            d.restored,
            d.sinr_margin
        );
    }
    println!("## echo models at the paper's defaults (target 45 deg, 20 m), fully digital optimum, gamma = 10 dB");
    for mode in ["downlink", "uplink"] {
        for echo in ["one-hop", "two-hop"] {
            let m = model(
                &format!("mode = \"{mode}\"\necho_model = \"{echo}\""),
                Wavefront::Fresnel,
            );
            let snr = m.sensing_gain.norm_sqr() * m.scenario.power / m.scenario.noise;
            let d = fully_digital(&m, &design_settings()).unwrap();
            let b = d.bound.unwrap();
            println!(
                "{mode:8} {echo:7}: |beta|^2 = {:.2} dB, sensing SNR {:.1} dB, RCRB angle {:.3e} deg, distance {:.3e} m ({})",
                10.0 * m.sensing_gain.norm_sqr().log10(),
                10.0 * snr.log10(),
                b.rcrb_angle().unwrap().to_degrees(),
                b.rcrb_distance().unwrap(),
                d.status.as_str()
            );
        }
    }
    println!("\n## Fresnel vs exact MT wavefront: relative RCRB difference (fresnel / exact - 1)");
    println!("isotropic R_x = P I / N_a (downlink, N_a = 64, N_b = 16); angle deg x distance m");
    let distances = [1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0];
    print!("{:>6}", "angle");
    for r in distances {
        print!(" {:>13}", format!("{r} m"));
    }
    println!();
    for angle in [0.0, 30.0, 45.0, 60.0, 75.0] {
        print!("{angle:>6}");
        for r in distances {
            let src = format!("target = [{angle}, {r}]\nusers = 1\nsensing_snr_db = 20.0");
            let (mf, me) = (
                model(&src, Wavefront::Fresnel),
                model(&src, Wavefront::Exact),
            );
            let n = 64;
            let iso = Mat::from_fn(n, n, |i, j| {
                C64::new(if i == j { 1.0 / n as f64 } else { 0.0 }, 0.0)
            });
            let (bf, be) = (mf.bound(&iso, None), me.bound(&iso, None));
            let da = bf.rcrb_angle().unwrap() / be.rcrb_angle().unwrap() - 1.0;
            let dd = bf.rcrb_distance().unwrap() / be.rcrb_distance().unwrap() - 1.0;
            print!(" {:>6.3}/{:<6.3}", 100.0 * da, 100.0 * dd);
        }
        println!();
    }
    println!("(entries: angle %/distance %)");
    println!("\n## the same at the fully digital optimum of each model (downlink, gamma = 10 dB): RCRB distance %");
    for angle in [0.0, 45.0] {
        for r in [2.0, 5.0, 10.0, 20.0, 40.0] {
            let src = format!("target = [{angle}, {r}]\nsensing_snr_db = 20.0");
            let (mf, me) = (
                model(&src, Wavefront::Fresnel),
                model(&src, Wavefront::Exact),
            );
            let (df, de) = (
                fully_digital(&mf, &design_settings()).unwrap(),
                fully_digital(&me, &design_settings()).unwrap(),
            );
            let (bf, be) = (df.bound.unwrap(), de.bound.unwrap());
            // the Fresnel-optimal design evaluated on the exact model
            let cross = me.bound(df.transmit_covariance.as_ref().unwrap(), None);
            println!(
                "angle {angle:>4} r {r:>5}: fresnel-optimum/exact-optimum - 1: angle {:>7.3}% distance {:>7.3}%; fresnel design on the exact model: distance {:>7.3}%",
                100.0 * (bf.rcrb_angle().unwrap() / be.rcrb_angle().unwrap() - 1.0),
                100.0 * (bf.rcrb_distance().unwrap() / be.rcrb_distance().unwrap() - 1.0),
                100.0 * (cross.rcrb_distance().unwrap() / be.rcrb_distance().unwrap() - 1.0),
            );
        }
    }
}
