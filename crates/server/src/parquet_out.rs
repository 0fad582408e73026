//! Parquet output for the exports a warehouse loads (the analytics snapshot, a deal's pool
//! tape): flat tables of required text and integer columns, one row group per batch of
//! rows so a caller streaming pages keeps one page in memory. Text is UTF-8 (`BYTE_ARRAY`
//! annotated `UTF8`), amounts stay integer minor units (`INT64`), rates stay decimal text.

use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::io::Write;
use std::sync::Arc;

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int64,
    Int32,
}

/// One row group's values of one column.
pub enum Column {
    Text(Vec<String>),
    Int64(Vec<i64>),
    Int32(Vec<i32>),
}

impl Column {
    fn kind(&self) -> Kind {
        match self {
            Column::Text(_) => Kind::Text,
            Column::Int64(_) => Kind::Int64,
            Column::Int32(_) => Kind::Int32,
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::Int64(v) => v.len(),
            Column::Int32(v) => v.len(),
        }
    }
}

/// The schema in Parquet's message syntax.
fn message(name: &str, fields: &[(&str, Kind)]) -> String {
    let mut m = format!("message {name} {{");
    for (field, kind) in fields {
        let t = match kind {
            Kind::Text => "BYTE_ARRAY",
            Kind::Int64 => "INT64",
            Kind::Int32 => "INT32",
        };
        let annotation = if *kind == Kind::Text { " (UTF8)" } else { "" };
        m.push_str(&format!(" REQUIRED {t} {field}{annotation};"));
    }
    m.push_str(" }");
    m
}

pub struct Writer<W: Write + Send> {
    inner: SerializedFileWriter<W>,
    kinds: Vec<Kind>,
}

impl<W: Write + Send> Writer<W> {
    pub fn new(out: W, name: &str, fields: &[(&str, Kind)]) -> anyhow::Result<Self> {
        let schema = Arc::new(parse_message_type(&message(name, fields))?);
        let props = Arc::new(WriterProperties::builder().build());
        Ok(Writer {
            inner: SerializedFileWriter::new(out, schema, props)?,
            kinds: fields.iter().map(|(_, k)| *k).collect(),
        })
    }

    /// Writes one row group: a column of values for each field, in the schema's order.
    pub fn row_group(&mut self, columns: Vec<Column>) -> anyhow::Result<()> {
        anyhow::ensure!(
            columns
                .iter()
                .map(Column::kind)
                .eq(self.kinds.iter().copied()),
            "the columns do not match the schema"
        );
        let rows = columns.first().map_or(0, Column::len);
        anyhow::ensure!(
            columns.iter().all(|c| c.len() == rows),
            "columns of a row group differ in length"
        );
        let mut group = self.inner.next_row_group()?;
        for column in columns {
            let mut w = group
                .next_column()?
                .ok_or_else(|| anyhow::anyhow!("more columns than the schema"))?;
            match column {
                Column::Text(v) => {
                    let v: Vec<ByteArray> = v
                        .into_iter()
                        .map(|s| ByteArray::from(s.into_bytes()))
                        .collect();
                    w.typed::<ByteArrayType>().write_batch(&v, None, None)?;
                }
                Column::Int64(v) => {
                    w.typed::<Int64Type>().write_batch(&v, None, None)?;
                }
                Column::Int32(v) => {
                    w.typed::<Int32Type>().write_batch(&v, None, None)?;
                }
            }
            w.close()?;
        }
        group.close()?;
        Ok(())
    }

    /// Writes the footer; the file is complete only after this.
    pub fn close(self) -> anyhow::Result<W> {
        Ok(self.inner.into_inner()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn rows_read_back_as_written_across_row_groups() {
        let fields = [
            ("id", Kind::Text),
            ("amount_minor", Kind::Int64),
            ("months", Kind::Int32),
        ];
        let mut w = Writer::new(Vec::new(), "t", &fields).unwrap();
        w.row_group(vec![
            Column::Text(vec!["a".into(), "贷款".into()]),
            Column::Int64(vec![i64::MAX, -5]),
            Column::Int32(vec![12, 0]),
        ])
        .unwrap();
        w.row_group(vec![
            Column::Text(vec!["c".into()]),
            Column::Int64(vec![7]),
            Column::Int32(vec![3]),
        ])
        .unwrap();
        let bytes = w.close().unwrap();
        let r = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(r.metadata().num_row_groups(), 2);
        let rows: Vec<String> = r
            .get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().to_string())
            .collect();
        assert_eq!(
            rows,
            [
                r#"{id: "a", amount_minor: 9223372036854775807, months: 12}"#,
                r#"{id: "贷款", amount_minor: -5, months: 0}"#,
                r#"{id: "c", amount_minor: 7, months: 3}"#,
            ]
        );
    }

    #[test]
    fn columns_that_do_not_fit_the_schema_are_refused() {
        let mut w = Writer::new(Vec::new(), "t", &[("id", Kind::Text)]).unwrap();
        assert!(w.row_group(vec![Column::Int64(vec![1])]).is_err());
    }
}
