//! The paper's claims, each checked against the report's numbers by a rule fixed here in
//! advance, so that the verdict is never written by hand and never tuned to agree.

use serde::Serialize;

use super::{CaseResult, ModelResult, OodResult};

/// One claim of the paper against one case of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// The case (or out-of-distribution volume) it was checked on.
    pub case: String,
    /// The claim, in short.
    pub claim: String,
    /// What the paper reports.
    pub paper: String,
    /// The rule that decides the verdict.
    pub rule: String,
    /// What this report measured.
    pub measured: String,
    /// Whether the measurement satisfies the rule; `None` where it cannot be computed.
    pub agrees: Option<bool>,
}

/// Checks every claim on every case that has both a BCNN and an MCDN.
pub fn check(cases: &[CaseResult], ood: &[OodResult]) -> Vec<Claim> {
    let mut claims = Vec::new();
    for case in cases {
        let (Some(bcnn), Some(mcdn)) = (find(&case.models, "bcnn"), find(&case.models, "mcdn"))
        else {
            continue;
        };
        claims.extend(case_claims(&case.name, bcnn, mcdn));
    }
    for volume in ood {
        for model in &volume.models {
            let ratio = model.mean_uncertainty / model.reference_mean_uncertainty;
            claims.push(Claim {
                case: volume.name.clone(),
                claim: format!(
                    "the {} is more uncertain on a material it never saw",
                    model.variant.to_uppercase()
                ),
                paper: "not measured in the paper; its title: we know where we don't know".into(),
                rule: format!(
                    "mean uncertainty on the unseen volume above that on the test slices of {}",
                    volume.reference
                ),
                measured: format!(
                    "{:.4} against {:.4} ({})",
                    model.mean_uncertainty,
                    model.reference_mean_uncertainty,
                    times(ratio)
                ),
                agrees: ratio
                    .is_finite()
                    .then_some(model.mean_uncertainty > model.reference_mean_uncertainty),
            });
        }
    }
    claims
}

fn find<'a>(models: &'a [ModelResult], variant: &str) -> Option<&'a ModelResult> {
    models.iter().find(|model| model.variant == variant)
}

/// The claims that compare the two models on one labelled case.
fn case_claims(case: &str, bcnn: &ModelResult, mcdn: &ModelResult) -> Vec<Claim> {
    let claim = |claim: &str, paper: &str, rule: &str, measured: String, agrees| Claim {
        case: case.to_string(),
        claim: claim.to_string(),
        paper: paper.to_string(),
        rule: rule.to_string(),
        measured,
        agrees,
    };
    let accuracy_gap = bcnn.accuracy - mcdn.accuracy;
    let ratio = bcnn.mean_uncertainty / mcdn.mean_uncertainty;
    let higher = |b: Option<f64>, m: Option<f64>| b.zip(m).map(|(b, m)| b > m);
    let lower = |b: Option<f64>, m: Option<f64>| b.zip(m).map(|(b, m)| b < m);
    vec![
        claim(
            "BCNN accuracy about that of the MCDN",
            "usually within a percentage point; equal or better in most cases",
            "|BCNN - MCDN| <= 0.01",
            format!(
                "{:.4} against {:.4} ({:+.4})",
                bcnn.accuracy, mcdn.accuracy, accuracy_gap
            ),
            Some(accuracy_gap.abs() <= 0.01),
        ),
        claim(
            "BCNN mean uncertainty about ten times the MCDN's",
            "an order of magnitude more uncertainty (Tables 1 and 2)",
            "ratio between 5 and 20 (ten, within a factor of two)",
            format!(
                "{:.4} against {:.4} ({})",
                bcnn.mean_uncertainty,
                mcdn.mean_uncertainty,
                times(ratio)
            ),
            ratio.is_finite().then_some((5.0..=20.0).contains(&ratio)),
        ),
        claim(
            "BCNN P(U|I) higher than the MCDN's",
            "higher on every sample, often double (Table 3)",
            "BCNN > MCDN",
            pair(
                bcnn.p_uncertain_given_inaccurate,
                mcdn.p_uncertain_given_inaccurate,
            ),
            higher(
                bcnn.p_uncertain_given_inaccurate,
                mcdn.p_uncertain_given_inaccurate,
            ),
        ),
        claim(
            "BCNN P(A|C) higher than the MCDN's",
            "higher on every sample (Table 3)",
            "BCNN > MCDN",
            pair(bcnn.p_accurate_given_certain, mcdn.p_accurate_given_certain),
            higher(bcnn.p_accurate_given_certain, mcdn.p_accurate_given_certain),
        ),
        claim(
            "BCNN PAvPU lower than the MCDN's",
            "lower: PAvPU penalizes being accurate and uncertain at once (Table 3)",
            "BCNN < MCDN",
            pair(bcnn.pavpu, mcdn.pavpu),
            lower(bcnn.pavpu, mcdn.pavpu),
        ),
    ]
}

fn pair(bcnn: Option<f64>, mcdn: Option<f64>) -> String {
    let show = |value: Option<f64>| value.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    format!("{} against {}", show(bcnn), show(mcdn))
}

fn times(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{ratio:.1} times")
    } else {
        "ratio undefined".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(variant: &str, accuracy: f64, uncertainty: f64, pui: f64) -> ModelResult {
        ModelResult {
            variant: variant.into(),
            model: format!("{variant}.ctuq"),
            training: None,
            inference_secs: 1.0,
            accuracy,
            dice: 0.9,
            mean_uncertainty: uncertainty,
            p_accurate_given_certain: Some(0.9),
            p_uncertain_given_inaccurate: Some(pui),
            pavpu: None,
            accuracy_at_paper_threshold: accuracy,
            best_threshold: 1.0,
            best_accuracy: accuracy,
            sweep: Vec::new(),
        }
    }

    fn verdict(claims: &[Claim], starts: &str) -> Option<bool> {
        claims
            .iter()
            .find(|claim| claim.claim.starts_with(starts))
            .and_then(|claim| claim.agrees)
    }

    #[test]
    fn rules_decide_each_verdict() {
        let bcnn = model("bcnn", 0.950, 0.10, 0.6);
        let mcdn = model("mcdn", 0.965, 0.01, 0.3);
        let claims = case_claims("case", &bcnn, &mcdn);

        assert_eq!(
            verdict(&claims, "BCNN accuracy"),
            Some(false),
            "gap of 1.5 points"
        );
        assert_eq!(
            verdict(&claims, "BCNN mean uncertainty"),
            Some(true),
            "ratio 10"
        );
        assert_eq!(verdict(&claims, "BCNN P(U|I)"), Some(true));
        assert_eq!(
            verdict(&claims, "BCNN P(A|C)"),
            Some(false),
            "equal is not higher"
        );
        assert_eq!(verdict(&claims, "BCNN PAvPU"), None, "PAvPU undefined");

        let close = model("mcdn", 0.955, 0.05, 0.7);
        let claims = case_claims("case", &bcnn, &close);
        assert_eq!(verdict(&claims, "BCNN accuracy"), Some(true));
        assert_eq!(
            verdict(&claims, "BCNN mean uncertainty"),
            Some(false),
            "ratio 2"
        );
        assert_eq!(verdict(&claims, "BCNN P(U|I)"), Some(false));
    }

    #[test]
    fn zero_mcdn_uncertainty_gives_no_verdict() {
        let bcnn = model("bcnn", 0.95, 0.1, 0.5);
        let mcdn = model("mcdn", 0.95, 0.0, 0.5);
        let claims = case_claims("case", &bcnn, &mcdn);
        assert_eq!(verdict(&claims, "BCNN mean uncertainty"), None);
    }
}
