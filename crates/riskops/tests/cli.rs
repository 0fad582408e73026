//! The `puhui model` commands end to end on small generated CSVs: outputs, row order,
//! fallbacks and the errors users see for bad input.

use riskops::{run, GbmArgs, ModelCmd};
use std::fs;
use std::path::{Path, PathBuf};

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("riskops-cli-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bad rate rises with `amount` and in city "B"; a few blanks in every feature.
fn write_training_csv(path: &Path) {
    let mut s = String::from("id,amount,city,bad\n");
    let mut state = 12345u64;
    for i in 0..600 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 33) as f64 / (1u64 << 31) as f64;
        let city = ["A", "B", "C"][i % 3];
        let amount = (u * 1000.0).round();
        let risk = u * 0.6 + if city == "B" { 0.3 } else { 0.0 };
        let bad = u8::from(risk > 0.55 || (i % 17 == 0));
        let amount = if i % 29 == 0 {
            String::new()
        } else {
            amount.to_string()
        };
        let city = if i % 31 == 0 { "" } else { city };
        s.push_str(&format!("{i},{amount},{city},{bad}\n"));
    }
    fs::write(path, s).unwrap();
}

fn train(dir: &Path, kind: &str) -> PathBuf {
    train_with(dir, kind, GbmArgs::default())
}

fn train_with(dir: &Path, kind: &str, gbm: GbmArgs) -> PathBuf {
    let data = dir.join("train.csv");
    write_training_csv(&data);
    let out = dir.join(format!("{kind}.json"));
    let kind = clap::ValueEnum::from_str(kind, true).unwrap();
    let exclude = vec!["id".to_string()];
    run(ModelCmd::Train {
        data,
        target: "bad".into(),
        bad_value: None,
        kind,
        out: out.clone(),
        exclude,
        holdout: false,
        json: false,
        pdo: 20.0,
        base_points: 600.0,
        base_odds: 50.0,
        gbm,
    })
    .unwrap();
    out
}

fn error_text(cmd: ModelCmd) -> String {
    format!("{:#}", run(cmd).unwrap_err())
}

#[test]
fn score_keeps_row_order_without_target_and_with_unseen_categories() {
    for kind in ["scorecard", "gbm"] {
        let dir = workdir(&format!("score-{kind}"));
        let model = train(&dir, kind);
        let data = dir.join("new.csv");
        fs::write(&data, "amount,city,id\n900,B,1\n10,A,2\n,Z,3\n500,,4\n").unwrap();
        let out = dir.join("scores.csv");
        let keep = vec!["id".to_string()];
        run(ModelCmd::Score {
            model,
            data,
            out: out.clone(),
            keep,
        })
        .unwrap();
        let text = fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let header = if kind == "scorecard" {
            "row,id,probability_bad,score"
        } else {
            "row,id,probability_bad"
        };
        assert_eq!(lines[0], header);
        assert_eq!(lines.len(), 5);
        let p: Vec<f64> = lines[1..]
            .iter()
            .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(lines[1..]
            .iter()
            .enumerate()
            .all(|(i, l)| l.starts_with(&format!("{},", i + 1))));
        assert!(
            p[0] > p[1],
            "{kind}: high amount in city B is riskier: {p:?}"
        );
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
    }
}

#[test]
fn model_json_round_trips_to_identical_predictions() {
    let dir = workdir("roundtrip");
    let path = train(&dir, "gbm");
    let model = riskops::load_model(&path).unwrap();
    let again: risk::Model = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    let table = riskops::load_table(&dir.join("train.csv")).unwrap();
    let data = model.schema().encode(&table).unwrap();
    for i in 0..data.n_rows {
        assert_eq!(model.predict(data.row(i)), again.predict(data.row(i)));
    }
}

#[test]
fn training_errors_name_the_column_and_row() {
    let dir = workdir("errors");
    let data = dir.join("d.csv");
    write_training_csv(&data);
    let out = dir.join("m.json");
    let train = |target: &str, data: &Path| ModelCmd::Train {
        data: data.to_path_buf(),
        target: target.into(),
        bad_value: None,
        kind: clap::ValueEnum::from_str("gbm", true).unwrap(),
        out: out.clone(),
        exclude: Vec::new(),
        holdout: false,
        json: false,
        pdo: 20.0,
        base_points: 600.0,
        base_odds: 50.0,
        gbm: Default::default(),
    };
    assert!(error_text(train("nope", &data)).contains("column `nope` is not in the data"));
    let constant = dir.join("c.csv");
    fs::write(
        &constant,
        (0..100).fold("a,y\n".to_string(), |s, i| s + &format!("{i},0\n")),
    )
    .unwrap();
    assert!(error_text(train("y", &constant)).contains("single value"));
    let typo = dir.join("t.csv");
    let body: String = (0..300)
        .map(|i| {
            if i == 122 {
                "12;5,1\n".to_string()
            } else {
                format!("{i},{}\n", i % 2)
            }
        })
        .collect();
    fs::write(&typo, format!("amount,y\n{body}")).unwrap();
    let err = error_text(train("y", &typo));
    assert!(
        err.contains("column `amount` row 123: `12;5` is not a number"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written on failure");
}

#[test]
fn scoring_errors_leave_no_output() {
    let dir = workdir("score-errors");
    let model = train(&dir, "scorecard");
    let out = dir.join("scores.csv");
    let data = dir.join("bad.csv");
    fs::write(&data, "amount,city\n10,A\nabc,B\n").unwrap();
    let err = error_text(ModelCmd::Score {
        model: model.clone(),
        data: data.clone(),
        out: out.clone(),
        keep: Vec::new(),
    });
    assert!(
        err.contains("column `amount` row 2: `abc` is not a number"),
        "{err}"
    );
    fs::write(&data, "city\nA\n").unwrap();
    let err = error_text(ModelCmd::Score {
        model,
        data: data.clone(),
        out: out.clone(),
        keep: Vec::new(),
    });
    assert!(err.contains("column `amount` is not in the data"), "{err}");
    let corrupt = dir.join("corrupt.json");
    fs::write(&corrupt, "{\"kind\":\"gbm\"").unwrap();
    let err = error_text(ModelCmd::Score {
        model: corrupt,
        data,
        out: out.clone(),
        keep: Vec::new(),
    });
    assert!(err.contains("parse model file"), "{err}");
    assert!(!out.exists());
    assert_eq!(
        fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp"))
            .count(),
        0
    );
}

#[test]
fn report_renders_text_and_html() {
    let dir = workdir("report");
    let model = train(&dir, "scorecard");
    for format in ["text", "html", "json"] {
        let out = dir.join(format!("report.{format}"));
        run(ModelCmd::Report {
            model: model.clone(),
            data: dir.join("train.csv"),
            target: None,
            bad_value: None,
            baseline: None,
            format: clap::ValueEnum::from_str(format, true).unwrap(),
            out: Some(out.clone()),
        })
        .unwrap();
        let text = fs::read_to_string(&out).unwrap();
        let needles: &[&str] = if format == "json" {
            &[
                "\"auc\"",
                "\"ks\"",
                "\"brier\"",
                "\"psi\"",
                "amount",
                "calibration",
            ]
        } else {
            &["AUC", "KS", "Brier", "PSI", "amount", "Scorecard"]
        };
        for needle in needles {
            assert!(text.contains(needle), "{format} report lacks {needle}");
        }
        if format == "html" {
            assert_eq!(text.matches("<svg").count(), 3);
        }
    }
}

#[test]
fn one_class_samples_are_errors_not_panics() {
    let dir = workdir("one-class");
    let model = train(&dir, "gbm");
    let data = dir.join("goods.csv");
    let body: String = (0..60).map(|i| format!("{i},{},A,0\n", i * 10)).collect();
    fs::write(&data, format!("id,amount,city,bad\n{body}")).unwrap();
    let err = error_text(ModelCmd::Report {
        model,
        data,
        target: None,
        bad_value: None,
        baseline: None,
        format: clap::ValueEnum::from_str("text", true).unwrap(),
        out: None,
    });
    assert!(err.contains("single"), "{err}");
}

#[test]
fn structurally_corrupt_models_are_rejected_on_load() {
    let dir = workdir("corrupt-model");
    let path = train(&dir, "gbm");
    let text = fs::read_to_string(&path).unwrap();
    let first = text.find("\"feature\":").unwrap();
    let end = first + text[first..].find(',').unwrap();
    fs::write(
        &path,
        format!("{}\"feature\":99{}", &text[..first], &text[end..]),
    )
    .unwrap();
    let err = format!("{:#}", riskops::load_model(&path).unwrap_err());
    assert!(err.contains("splits on feature 99"), "{err}");
}

#[test]
fn gbm_flags_override_the_defaults_and_the_model_file_records_them() {
    let dir = workdir("gbm-flags");
    let gbm = GbmArgs {
        learning_rate: Some(0.05),
        max_leaves: Some(5),
        max_rounds: Some(40),
        ..GbmArgs::default()
    };
    let path = train_with(&dir, "gbm", gbm);
    let model: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let params = &model["gbm"]["params"];
    assert_eq!(params["learning_rate"], 0.05);
    assert_eq!(params["max_leaves"], 5);
    assert_eq!(params["max_rounds"], 40);
    // Untouched parameters keep the small-data defaults.
    assert_eq!(params["min_data_in_leaf"], 20);
    assert_eq!(params["refit"], true);
    assert!(model["gbm"]["best_rounds"].as_u64().unwrap() <= 40);
    // A model file written before parameters were recorded still loads and scores.
    let mut old = model.clone();
    old["gbm"].as_object_mut().unwrap().remove("params");
    let old_path = dir.join("old.json");
    fs::write(&old_path, old.to_string()).unwrap();
    assert!(riskops::load_model(&old_path).is_ok());
}

#[test]
fn gbm_rejects_bad_parameters_naming_them() {
    let dir = workdir("gbm-bad-flags");
    let data = dir.join("train.csv");
    write_training_csv(&data);
    let cmd = |gbm: GbmArgs| ModelCmd::Train {
        data: data.clone(),
        target: "bad".into(),
        bad_value: None,
        kind: clap::ValueEnum::from_str("gbm", true).unwrap(),
        out: dir.join("m.json"),
        exclude: vec!["id".into()],
        holdout: false,
        json: false,
        pdo: 20.0,
        base_points: 600.0,
        base_odds: 50.0,
        gbm,
    };
    let err = error_text(cmd(GbmArgs {
        learning_rate: Some(0.0),
        ..GbmArgs::default()
    }));
    assert!(err.contains("learning_rate"), "{err}");
    let err = error_text(cmd(GbmArgs {
        bagging_fraction: Some(1.5),
        ..GbmArgs::default()
    }));
    assert!(err.contains("bagging_fraction"), "{err}");
    assert!(!dir.join("m.json").exists());
}
