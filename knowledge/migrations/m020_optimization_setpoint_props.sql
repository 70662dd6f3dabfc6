-- optimization: what each approved setpoint was predicted to save (kW, tariff, carbon) and why.
-- props: {"system": "chiller|compressed_air", "predicted_saving_kw": .., "tariff_per_kwh": ..,
--         "carbon_kg_per_kwh": .., "previous_value": ..}
ALTER TABLE setpoints ADD COLUMN IF NOT EXISTS props JSON;
