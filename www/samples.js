// Sample reports for the page. Synthetic: written by the cxr-labeler team, no patient's text.

export const SAMPLES = Object.freeze([
  {
    name: "Normal",
    text: "FINDINGS: Heart size is normal. The mediastinum is unremarkable. The lungs are clear. No pleural effusion or pneumothorax.\nIMPRESSION: No acute cardiopulmonary abnormality.",
  },
  {
    name: "Heart failure",
    text: "FINDINGS: The heart is enlarged. Diffuse interstitial edema with small bilateral pleural effusions. No pneumothorax.\nIMPRESSION: Cardiomegaly with pulmonary edema, likely congestive heart failure.",
  },
  {
    name: "Possible pneumonia",
    text: "FINDINGS: Patchy opacity in the right lower lobe, which may represent pneumonia or atelectasis. Heart size is normal. No effusion.\nIMPRESSION: Right basilar opacity, possible early pneumonia. Follow-up recommended.",
  },
  {
    name: "Lines and tubes",
    text: "FINDINGS: Endotracheal tube 4 cm above the carina. Right internal jugular catheter terminates in the superior vena cava. Left basilar atelectasis. No pneumothorax.\nIMPRESSION: Support devices in standard position.",
  },
  {
    name: "Trauma",
    text: "FINDINGS: Acute displaced fracture of the left seventh rib. Small left apical pneumothorax. Lungs otherwise clear.\nIMPRESSION: Left rib fracture with small pneumothorax.",
  },
]);
