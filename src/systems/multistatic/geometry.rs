//! Doppler–delay geometry and localisation (47)-(55). In progress.
