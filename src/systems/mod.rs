pub mod backscatter;
