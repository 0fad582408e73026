use anyhow::{Context, Result};
use risk::{Dataset, Model, SchemaPass, Table, TargetSpec};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

/// Reads a CSV with a header row into a string table.
pub fn load_table(path: &Path) -> Result<Table> {
    let file = open_file(path)?;
    table_from(&path.display().to_string(), file)
}

/// As [`load_table`], from any reader; `name` says where the bytes came from in errors.
pub fn table_from(name: &str, input: impl Read) -> Result<Table> {
    let (header, mut reader) = open_csv(name, input)?;
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("read {name} row {}", i + 1))?;
        records.push(record.iter().map(str::to_string).collect());
    }
    let table = Table::from_records(header, records).with_context(|| format!("read {name}"))?;
    if table.n_rows() == 0 {
        return Err(risk::RiskError::Empty).with_context(|| format!("read {name}"));
    }
    Ok(table)
}

/// Reads a training CSV in two streaming passes (types, then values) straight into a dataset,
/// its labels and the resolved target: memory holds the `f64` matrix, never the strings.
pub fn load_training(
    path: &Path,
    target: &TargetSpec,
    exclude: &[String],
) -> Result<(Dataset, Vec<u8>, TargetSpec)> {
    training_from(
        &path.display().to_string(),
        || open_file(path),
        target,
        exclude,
    )
}

/// As [`load_training`], reading the bytes `open` gives, once per pass.
pub fn training_from<R: Read>(
    name: &str,
    open: impl Fn() -> Result<R>,
    target: &TargetSpec,
    exclude: &[String],
) -> Result<(Dataset, Vec<u8>, TargetSpec)> {
    let context = || format!("read {name}");
    let (header, mut reader) = open_csv(name, open()?)?;
    let mut first = SchemaPass::new(header, &target.column, exclude).with_context(context)?;
    each_record(&mut reader, name, |record| {
        first
            .push(&record.iter().collect::<Vec<_>>())
            .with_context(context)
    })?;
    let mut second = first.finish(target).with_context(context)?;
    let (_, mut reader) = open_csv(name, open()?)?;
    each_record(&mut reader, name, |record| {
        second
            .push(&record.iter().collect::<Vec<_>>())
            .with_context(context)
    })?;
    second.finish().with_context(context)
}

fn open_file(path: &Path) -> Result<fs::File> {
    fs::File::open(path).with_context(|| format!("open data file {}", path.display()))
}

fn open_csv<R: Read>(name: &str, input: R) -> Result<(Vec<String>, csv::Reader<R>)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("read the header of {name}"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    Ok((header, reader))
}

fn each_record<R: Read>(
    reader: &mut csv::Reader<R>,
    name: &str,
    mut each: impl FnMut(&csv::StringRecord) -> Result<()>,
) -> Result<()> {
    let mut record = csv::StringRecord::new();
    let mut i = 0;
    while reader
        .read_record(&mut record)
        .with_context(|| format!("read {name} row {}", i + 1))?
    {
        each(&record)?;
        i += 1;
    }
    Ok(())
}

/// Reads a model file written by `train` or `import`.
pub fn load_model(path: &Path) -> Result<Model> {
    let text =
        fs::read_to_string(path).with_context(|| format!("read model file {}", path.display()))?;
    parse_model(&path.display().to_string(), &text)
}

/// Parses and checks the text of a model file; `name` says where it came from in errors.
pub fn parse_model(name: &str, text: &str) -> Result<Model> {
    let model: Model = serde_json::from_str(text)
        .with_context(|| format!("parse model file {name} (not a Puhui model JSON?)"))?;
    model
        .validate()
        .with_context(|| format!("check model file {name}"))?;
    Ok(model)
}

/// Writes through a temporary sibling file and renames it into place, so readers never see a
/// partial file and a failure leaves the destination untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut file = std::io::BufWriter::new(fs::File::create(&tmp)?);
        write(&mut file)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            fs::rename(&tmp, path).with_context(|| format!("move output into {}", path.display()))
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e.context(format!("write {}", path.display())))
        }
    }
}
