//! ORC LLJIT with `jitmm_orc_rtdyld_layer`: one manager per object, freed
//! when its ResourceTracker is removed.

use crate::common::llvm::*;
use crate::common::*;

#[test]
fn modules_calling_each_other_and_the_host() {
    let _g = serial();
    for strategy in strategies() {
        let jit = Lljit::new(Layer::JitmmRtdyld, strategy);
        let tag = format!("orc{strategy:?}");
        let rt = jit.add(&sample_ir(&tag));
        check_sample(|n| jit.fn1(n), &tag);
        assert_in_arena(jit.lookup(&format!("even_{tag}")), strategy);
        // A second module calling into the first and into libc (llabs: i64 on
        // 32-bit targets too, where labs takes a 32-bit long).
        let caller = format!(
            "declare i64 @lookup_{tag}(i64)\ndeclare i64 @llabs(i64)\n\
             define i64 @caller_{tag}(i64 %x) {{\n  %a = call i64 @lookup_{tag}(i64 %x)\n  \
             %n = sub i64 0, %a\n  %b = call i64 @llabs(i64 %n)\n  ret i64 %b\n}}\n"
        );
        let rt2 = jit.add(&caller);
        assert_eq!(jit.fn1(&format!("caller_{tag}"))(2), 30);
        assert_no_wx();
        jit.remove(rt2);
        jit.remove(rt);
    }
}

#[test]
fn thousand_modules_added_and_removed_free_everything() {
    let _g = serial();
    for strategy in strategies() {
        let jit = Lljit::new(Layer::JitmmRtdyld, strategy);
        // Warm up: the arena and LLJIT's own structures are made once.
        let rt = jit.add(&sample_ir(&format!("warm{strategy:?}")));
        jit.fn1(&format!("lookup_warm{strategy:?}"));
        jit.remove(rt);
        let before = jitmm::stats();
        let vmas_before = process_vmas();
        let mut vmas_max = 0;
        let modules = module_count(1000);
        for i in 0..modules {
            let tag = format!("m{i}");
            let rt = jit.add(&sample_ir(&tag));
            assert_eq!(jit.fn1(&format!("lookup_{tag}"))(2), 30);
            if i % 100 == 0 {
                assert_no_wx();
            }
            jit.remove(rt);
            vmas_max = vmas_max.max(process_vmas());
        }
        let after = jitmm::stats();
        println!(
            "{strategy:?}: {modules} modules: objects_live {} -> {}, bytes_live {} -> {}, \
             process VMAs {} -> {} (max {}), jitmm VMAs {}, syscalls {}",
            before.objects_live,
            after.objects_live,
            before.bytes_live(),
            after.bytes_live(),
            vmas_before,
            process_vmas(),
            vmas_max,
            after.vmas,
            after.syscalls() - before.syscalls(),
        );
        assert_eq!(after.objects_live, before.objects_live, "{strategy:?}");
        assert_eq!(after.bytes_live(), before.bytes_live(), "{strategy:?}");
        assert!(after.objects_finalized >= before.objects_finalized + modules as u64);
        assert!(
            vmas_max <= vmas_before + 16,
            "{strategy:?}: VMAs grew to {vmas_max} from {vmas_before}"
        );
    }
}
