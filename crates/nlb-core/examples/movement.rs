use nlb_core::host::HostId;
const M: u32 = 262147;
use nlb_core::table::*;
fn main() {
    let mut worst_leave: f64 = 0.0;
    let mut worst_join: f64 = 0.0;
    for n in [32u8, 64] {
        let mut wl: f64 = 0.0;
        let mut wj: f64 = 0.0;
        for seed in 0..5u64 {
            let hosts: Vec<Participant> = (1..=n)
                .map(|h| Participant {
                    host: HostId(h),
                    weight: 50,
                })
                .collect();
            let full = OwnershipTable::build(M, seed, 9, &hosts);
            for leaver in [1u8, n / 2 + 1, n] {
                let rest: Vec<_> = hosts
                    .iter()
                    .copied()
                    .filter(|p| p.host.0 != leaver)
                    .collect();
                let t = OwnershipTable::build(M, seed, 9, &rest);
                let min = full.counts()[leaver as usize] as f64 / M as f64;
                wl = wl.max(full.moved_fraction(&t) / min);
            }
            let mut more = hosts.clone();
            more.push(Participant {
                host: HostId(n + 1),
                weight: 50,
            });
            let t = OwnershipTable::build(M, seed, 9, &more);
            wj = wj.max(full.moved_fraction(&t) * (n as f64 + 1.0));
        }
        println!("n={n} leave ratio {wl:.3} join ratio {wj:.3}");
        worst_leave = worst_leave.max(wl);
        worst_join = worst_join.max(wj);
    }
    println!("worst leave {worst_leave:.3} join {worst_join:.3}");
}
