package listener

// GatewaySpec is the spec of a networking.istio.io Gateway.
type GatewaySpec struct {
	// Selector picks gateway pods in Kubernetes; gatehouse is the gateway,
	// so it is ignored.
	Selector map[string]string `yaml:"selector"`
	Servers  []ServerSpec      `yaml:"servers"`
}

// ServerSpec is one server (listener description) of a Gateway.
type ServerSpec struct {
	Port            *Port              `yaml:"port"`
	Bind            string             `yaml:"bind"`
	Hosts           []string           `yaml:"hosts"`
	TLS             *ServerTLSSettings `yaml:"tls"`
	Name            string             `yaml:"name"`
	DefaultEndpoint string             `yaml:"defaultEndpoint"`
}

// Port is a Gateway server port.
type Port struct {
	Number     uint32 `yaml:"number"`
	Protocol   string `yaml:"protocol"`
	Name       string `yaml:"name"`
	TargetPort uint32 `yaml:"targetPort"`
}

// ServerTLSSettings is a Gateway server's tls block.
type ServerTLSSettings struct {
	HTTPSRedirect         bool     `yaml:"httpsRedirect"`
	Mode                  string   `yaml:"mode"`
	ServerCertificate     string   `yaml:"serverCertificate"`
	PrivateKey            string   `yaml:"privateKey"`
	CACertificates        string   `yaml:"caCertificates"`
	CACrl                 string   `yaml:"caCrl"`
	CredentialName        string   `yaml:"credentialName"`
	CredentialNames       []string `yaml:"credentialNames"`
	SubjectAltNames       []string `yaml:"subjectAltNames"`
	VerifyCertificateSpki []string `yaml:"verifyCertificateSpki"`
	VerifyCertificateHash []string `yaml:"verifyCertificateHash"`
	MinProtocolVersion    string   `yaml:"minProtocolVersion"`
	MaxProtocolVersion    string   `yaml:"maxProtocolVersion"`
	CipherSuites          []string `yaml:"cipherSuites"`
	InsecureSkipVerify    *bool    `yaml:"insecureSkipVerify"`
}
