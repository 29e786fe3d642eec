# netns client
State     Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
TIME-WAIT 0      0      [2001:db8::1]:60672 [2001:db8::2]:84         
# netns server
State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN    0      4096   [2001:db8::2]:84            [::]:*           
TIME-WAIT 0      0      [2001:db8::2]:84   [2001:db8::1]:60676       
