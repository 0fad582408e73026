//! L2-regularised logistic regression by Newton's method, and its log-likelihood.

/// L2-regularised logistic regression by Newton's method; `x` is row-major `n x k`.
/// Returns `[intercept, w1..wk]`; the intercept is not penalised.
pub fn logistic(x: &[f64], y: &[u8], k: usize, l2: f64) -> Vec<f64> {
    let n = y.len();
    assert_eq!(x.len(), n * k);
    let d = k + 1;
    let mut w = vec![0.0; d];
    for _ in 0..50 {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        for i in 0..n {
            let row = &x[i * k..(i + 1) * k];
            let z = w[0] + row.iter().zip(&w[1..]).map(|(a, b)| a * b).sum::<f64>();
            let q = crate::forest::sigmoid(z);
            let (r, s) = (q - f64::from(y[i]), (q * (1.0 - q)).max(1e-12));
            for a in 0..d {
                let xa = if a == 0 { 1.0 } else { row[a - 1] };
                grad[a] += r * xa;
                for b in 0..=a {
                    let xb = if b == 0 { 1.0 } else { row[b - 1] };
                    hess[a * d + b] += s * xa * xb;
                }
            }
        }
        for a in 0..d {
            for b in 0..a {
                hess[b * d + a] = hess[a * d + b];
            }
            if a > 0 {
                grad[a] += l2 * w[a];
                hess[a * d + a] += l2;
            }
        }
        let step = solve(&mut hess, &mut grad, d);
        let size: f64 = step.iter().map(|s| s.abs()).sum();
        w.iter_mut().zip(&step).for_each(|(wi, si)| *wi -= si);
        if size < 1e-10 {
            break;
        }
    }
    w
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (small dense systems).
pub(super) fn solve(a: &mut [f64], b: &mut [f64], d: usize) -> Vec<f64> {
    for c in 0..d {
        let piv = (c..d)
            .max_by(|&i, &j| a[i * d + c].abs().total_cmp(&a[j * d + c].abs()))
            .expect("d > 0");
        if piv != c {
            for j in 0..d {
                a.swap(c * d + j, piv * d + j);
            }
            b.swap(c, piv);
        }
        let p = a[c * d + c];
        if p.abs() < 1e-300 {
            continue;
        }
        for i in c + 1..d {
            let f = a[i * d + c] / p;
            for j in c..d {
                a[i * d + j] -= f * a[c * d + j];
            }
            b[i] -= f * b[c];
        }
    }
    let mut x = vec![0.0; d];
    for c in (0..d).rev() {
        let s: f64 = (c + 1..d).map(|j| a[c * d + j] * x[j]).sum();
        let p = a[c * d + c];
        x[c] = if p.abs() < 1e-300 {
            0.0
        } else {
            (b[c] - s) / p
        };
    }
    x
}

pub(super) fn loglik(x: &[f64], y: &[u8], k: usize, w: &[f64]) -> f64 {
    y.iter()
        .enumerate()
        .map(|(i, &t)| {
            let z = w[0]
                + x[i * k..(i + 1) * k]
                    .iter()
                    .zip(&w[1..])
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            let q = crate::forest::sigmoid(z).clamp(1e-15, 1.0 - 1e-15);
            if t == 1 {
                q.ln()
            } else {
                (1.0 - q).ln()
            }
        })
        .sum()
}
